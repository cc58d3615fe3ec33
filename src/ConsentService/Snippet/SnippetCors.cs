using ConsentService.Infrastructure;
using ConsentService.Sites;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Snippet;

/// <summary>
/// CORS and the origin check for the snippet's <c>POST …/consents</c>: a browser request (one with
/// an <c>Origin</c> header) is taken only from the site's allowed origins or the service's own (the
/// demo page), and only those may read the answer. A page elsewhere gets a 403 and records nothing,
/// so no other site can write decisions into this one's ledger from its visitors' browsers.
/// Requests without <c>Origin</c> come from servers, not pages, and go on as before.
/// </summary>
public static class SnippetCors
{
    /// <summary>Refuses foreign origins and adds the CORS answer headers to every other response, problems included.</summary>
    public static RouteHandlerBuilder WithSnippetCors(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (http.GetRouteValue("siteId") is string siteId
                && await http.RequestServices.GetRequiredService<SiteDirectory>().GetAsync(siteId, http.RequestAborted) is { } site
                && !Allow(http, site)
                && http.Request.Headers.Origin.Count > 0)
            {
                return ForeignOrigin(http.Request.Headers.Origin.ToString(), siteId);
            }
            return await next(context);
        });

    private static ProblemHttpResult ForeignOrigin(string origin, string siteId)
    {
        // Echoed so the site owner sees what to add; cut, as it is whatever the client sent.
        var shown = origin.Length > 200 ? origin[..200] + "…" : origin;
        return TypedResults.Problem(
            $"Origin '{shown}' is not one of the allowed origins of site '{siteId}'; an admin adds it to the site's allowedOrigins.",
            statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed.", type: ProblemTypes.Forbidden,
            extensions: new Dictionary<string, object?> { ["origin"] = shown });
    }

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
