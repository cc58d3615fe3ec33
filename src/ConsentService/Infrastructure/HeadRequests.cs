using Microsoft.AspNetCore.Http.Features;

namespace ConsentService.Infrastructure;

/// <summary>
/// <c>HEAD</c> wherever <c>GET</c> is mapped (RFC 9110 §9.3.2): the same status and headers (ETag,
/// Content-Type, Content-Length, Cache-Control, 304 on If-None-Match), no body. Routing sees a GET, so
/// every GET route answers HEAD without a second route per endpoint (and no HEAD operations in the
/// OpenAPI document); after routing the method is HEAD again, so file results skip their bodies and
/// the audit log records what was asked. The body is discarded here too, not only by Kestrel, so
/// nothing depends on the server doing it.
/// </summary>
public static class HeadRequests
{
    /// <summary>A feature, not an <c>Items</c> entry: asking <c>Items</c> on every GET would create its dictionary.</summary>
    private sealed class Rewritten
    {
        public static readonly Rewritten Instance = new();
    }

    /// <summary>In place of <c>UseRouting()</c>: routes HEAD as GET.</summary>
    public static WebApplication UseRoutingWithHead(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await next(context);
                return;
            }
            context.Request.Method = HttpMethods.Get;
            context.Features.Set(Rewritten.Instance);
            var body = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
            context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(Stream.Null, body));
            try
            {
                await next(context);
            }
            finally
            {
                context.Features.Set(body);
                context.Features.Set<Rewritten>(null);
                context.Request.Method = HttpMethods.Head;
            }
        });
        app.UseRouting();
        app.Use((context, next) =>
        {
            if (context.Features.Get<Rewritten>() is not null) context.Request.Method = HttpMethods.Head;
            return next(context);
        });
        return app;
    }
}
