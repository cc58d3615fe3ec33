using Microsoft.Net.Http.Headers;

namespace ConsentService.Infrastructure;

/// <summary>Headers every response carries, set just before it starts so no endpoint can forget them.</summary>
public static class SecurityHeaders
{
    /// <summary>
    /// For HTML the service serves without a policy of its own (the Swagger UI): its scripts and
    /// styles are files of this origin. Inline styles stay allowed for it: Swagger UI's React
    /// components set style attributes, which cannot run code.
    /// </summary>
    public const string HtmlPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>For everything else (JSON, scripts, CSV): a response opened as a page can load and run nothing.</summary>
    public const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var response = context.Response;
        response.OnStarting(() =>
        {
            var headers = response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            // Consent pages and API answers carry site and subject ids in their URLs: no page should leak them onwards.
            headers["Referrer-Policy"] = "no-referrer";
            if (headers.ContentSecurityPolicy.Count == 0)
            {
                var html = response.ContentType is { } type && MediaTypeHeaderValue.TryParse(type, out var media)
                    && media.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase);
                headers.ContentSecurityPolicy = html ? HtmlPolicy : ApiPolicy;
            }
            // API answers are per caller and often personal (checks, histories, exports): no cache keeps them
            // unless the endpoint said otherwise (consent.js and its config are public and cacheable).
            if (context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal) && headers.CacheControl.Count == 0)
            {
                headers.CacheControl = "no-store";
            }
            return Task.CompletedTask;
        });
        return next(context);
    });
}
