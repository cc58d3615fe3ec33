using ConsentService.Sites;

namespace ConsentService.Snippet;

/// <summary>
/// CORS for the snippet's <c>POST …/consents</c>: the browser may read the answer (and so knows
/// whether to retry) when the page's origin is one of the site's allowed origins or the service's
/// own (the demo page). Other origins are not refused here: the request is still recorded, the
/// page just cannot read the answer.
/// </summary>
public static class SnippetCors
{
    /// <summary>Adds the CORS answer headers to every response of the endpoint, problems included.</summary>
    public static RouteHandlerBuilder WithSnippetCors(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (http.GetRouteValue("siteId") is string siteId
                && await http.RequestServices.GetRequiredService<SiteDirectory>().GetAsync(siteId, http.RequestAborted) is { } site)
            {
                Allow(http, site);
            }
            return await next(context);
        });

    /// <summary>Sets <c>Access-Control-Allow-Origin</c> when the request's origin may read the answer; true if so.</summary>
    public static bool Allow(HttpContext http, Site site)
    {
        // The answer depends on Origin, so a cache must not hand one origin's answer to another.
        http.Response.Headers.Append("Vary", "Origin");
        if (SiteRules.NormalizeOrigin(http.Request.Headers.Origin.ToString()) is not { } origin) return false;
        var own = SiteRules.NormalizeOrigin($"{http.Request.Scheme}://{http.Request.Host}");
        if (origin != own && !site.AllowedOrigins.Contains(origin, StringComparer.Ordinal)) return false;
        http.Response.Headers.AccessControlAllowOrigin = origin;
        return true;
    }

    /// <summary>Answers a preflight (a client sending <c>application/json</c> or an <c>Idempotency-Key</c> header).</summary>
    public static void AllowPreflight(HttpContext http, Site site)
    {
        if (!Allow(http, site)) return;
        var headers = http.Response.Headers;
        headers.AccessControlAllowMethods = "POST";
        headers.AccessControlAllowHeaders = "Content-Type, Idempotency-Key";
        headers.AccessControlMaxAge = "600";
    }
}
