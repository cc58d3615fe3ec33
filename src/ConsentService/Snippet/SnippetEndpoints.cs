using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ConsentService.Snippet;

public static class SnippetEndpoints
{
    /// <summary>Short: a newly published policy reaches visitors within minutes, without a redeploy.</summary>
    public const string CacheControl = "public, max-age=300";

    public static IEndpointRouteBuilder MapSnippetEndpoints(this IEndpointRouteBuilder routes)
    {
        var site = routes.MapGroup("/v1/sites/{siteId}").WithTags("Snippet");

        site.MapGet("/consent.js", Script)
            .WithName("GetSnippet")
            .WithSummary("The embeddable consent script with the site's config inlined")
            .WithDescription("Public. Embed with <script src=\".../v1/sites/{siteId}/consent.js\" async>. Strong ETag (If-None-Match → 304), " +
                "Cache-Control: " + CacheControl + ", gzip when accepted.")
            .Produces<string>(StatusCodes.Status200OK, "text/javascript")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status404NotFound);

        site.MapGet("/config", Config)
            .WithName("GetSnippetConfig")
            .WithSummary("The config the snippet runs with: current policy (purposes, vendors, texts), locale, jurisdiction, lifetimes")
            .WithDescription("Public. The same object consent.js carries inline.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        site.MapMethods("/consents", [HttpMethods.Options], Preflight).ExcludeFromDescription();
        return routes;
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Script(
        string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, IOptions<PublicUrlOptions> publicUrl, CancellationToken ct)
    {
        var (config, problem) = await LoadAsync(siteId, http, sites, policies, publicUrl.Value.Base, ct);
        if (config is null) return problem!;

        var rendered = SnippetScript.Encode(SnippetScript.Render(config));
        var gzip = AcceptsGzip(http.Request);
        Headers(http, config);
        http.Response.Headers.AccessControlAllowOrigin = "*";
        if (gzip) http.Response.Headers.ContentEncoding = "gzip";
        return TypedResults.Bytes(gzip ? rendered.Gzipped : rendered.Body, "text/javascript; charset=utf-8",
            entityTag: new EntityTagHeaderValue(gzip ? rendered.GzippedETag : rendered.ETag));
    }

    private static async Task<Results<Ok<SnippetConfig>, ProblemHttpResult>> Config(
        string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, IOptions<PublicUrlOptions> publicUrl, CancellationToken ct)
    {
        var (config, problem) = await LoadAsync(siteId, http, sites, policies, publicUrl.Value.Base, ct);
        if (config is null) return problem!;
        Headers(http, config);
        return TypedResults.Ok(config);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Preflight(string siteId, HttpContext http, SiteDirectory sites, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is not { } site) return Problems.SiteNotFound(siteId);
        SnippetCors.AllowPreflight(http, site);
        return TypedResults.NoContent();
    }

    private static async Task<(SnippetConfig?, ProblemHttpResult?)> LoadAsync(
        string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, string? api, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is not { } site) return (null, Problems.SiteNotFound(siteId));
        // Read through the catalog cache, which publishing clears: a new version shows on the next request.
        var versions = await policies.ListAsync(siteId, ct);
        if (versions.Count == 0) return (null, Problems.NotFound($"Site '{siteId}' has no published policy."));
        return (SnippetScript.Config(site, versions, http.Request, api), null);
    }

    private static void Headers(HttpContext http, SnippetConfig config)
    {
        var headers = http.Response.Headers;
        headers.CacheControl = CacheControl;
        headers.Vary = config.JurisdictionMode == JurisdictionMode.Auto
            ? string.Join(", ", ["Accept-Encoding", .. SnippetScript.CountryHeaders])
            : "Accept-Encoding";
    }

    private static bool AcceptsGzip(HttpRequest request) =>
        StringWithQualityHeaderValue.TryParseList(request.Headers.AcceptEncoding, out var codings)
        && codings.Any(c => (c.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase) || c.Value.Equals("*", StringComparison.Ordinal))
            && c.Quality is not 0);
}
