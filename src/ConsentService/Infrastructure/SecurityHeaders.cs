using Microsoft.Extensions.Primitives;
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

    private static readonly StringValues NoSniff = "nosniff";
    private static readonly StringValues Deny = "DENY";
    private static readonly StringValues NoReferrer = "no-referrer";
    private static readonly StringValues NoStore = "no-store";
    private static readonly StringValues Html = HtmlPolicy;
    private static readonly StringValues Api = ApiPolicy;

    /// <summary>One static callback with the context as its state: no closure and no strings built per request.</summary>
    private static readonly Func<object, Task> SetHeaders = state =>
    {
        var context = (HttpContext)state;
        var response = context.Response;
        var headers = response.Headers;
        headers.XContentTypeOptions = NoSniff;
        headers.XFrameOptions = Deny;
        // Consent pages and API answers carry site and subject ids in their URLs: no page should leak them onwards.
        headers["Referrer-Policy"] = NoReferrer;
        if (headers.ContentSecurityPolicy.Count == 0)
        {
            headers.ContentSecurityPolicy = IsHtml(response.ContentType) ? Html : Api;
        }
        // API answers are per caller and often personal (checks, histories, exports): no cache keeps them
        // unless the endpoint said otherwise (consent.js and its config are public and cacheable).
        if (context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal) && headers.CacheControl.Count == 0)
        {
            headers.CacheControl = NoStore;
        }
        return Task.CompletedTask;
    };

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(SetHeaders, context);
        return next(context);
    });

    /// <summary>What the service mostly answers with (JSON, consent.js, CSV) is told apart without parsing the header.</summary>
    private static bool IsHtml(string? type) =>
        type is { Length: > 0 } && type.Contains("html", StringComparison.OrdinalIgnoreCase)
        && MediaTypeHeaderValue.TryParse(type, out var media) && media.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase);
}
