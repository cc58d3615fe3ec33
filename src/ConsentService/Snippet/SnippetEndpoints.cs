using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;

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
                "Cache-Control: " + CacheControl + ", Brotli or gzip when accepted (precompressed once per variant).")
            .Produces<string>(StatusCodes.Status200OK, "text/javascript")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .DisableValidation(); // nothing to validate but the route's site id: no filter on every page view

        site.MapGet("/config", Config)
            .WithName("GetSnippetConfig")
            .WithSummary("The config the snippet runs with: current policy (purposes, vendors, texts), locale, jurisdiction, lifetimes")
            .WithDescription("Public. The same object consent.js carries inline. Strong ETag (If-None-Match → 304), " +
                "Cache-Control: " + CacheControl + ", Brotli or gzip when accepted.")
            .Produces<SnippetConfig>(StatusCodes.Status200OK, "application/json")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .DisableValidation();

        site.MapMethods("/consents", [HttpMethods.Options], Preflight).ExcludeFromDescription();
        return routes;
    }

    private static async Task<Results<PrecompressedResult, ProblemHttpResult>> Script(
        string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, IOptions<PublicUrlOptions> publicUrl, CancellationToken ct)
    {
        var (variant, problem) = await VariantAsync(SnippetKind.Script, siteId, http, sites, policies, publicUrl.Value.Base, ct);
        if (variant is null) return problem!;
        http.Response.Headers.AccessControlAllowOrigin = "*";
        return new PrecompressedResult(variant);
    }

    private static async Task<Results<PrecompressedResult, ProblemHttpResult>> Config(
        string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, IOptions<PublicUrlOptions> publicUrl, CancellationToken ct)
    {
        var (variant, problem) = await VariantAsync(SnippetKind.Config, siteId, http, sites, policies, publicUrl.Value.Base, ct);
        return variant is null ? problem! : new PrecompressedResult(variant);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Preflight(string siteId, HttpContext http, SiteDirectory sites, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is not { } site) return Problems.SiteNotFound(siteId);
        SnippetCors.AllowPreflight(http, site);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The bytes to serve, built on the first request for their variant and reused after: the site
    /// and policy list come from their read caches (a publish or site change replaces those entries, and
    /// the variant key is made of what changed, so a new policy shows on the next request).
    /// </summary>
    private static async Task<(PrecompressedVariant?, ProblemHttpResult?)> VariantAsync(
        SnippetKind kind, string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, string? api, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is not { } site) return (null, Problems.SiteNotFound(siteId));
        // Read through the catalog cache, which publishing clears: a new version shows on the next request.
        var versions = await policies.ListAsync(siteId, ct);
        if (versions.Count == 0) return (null, Problems.NotFound($"Site '{siteId}' has no published policy."));
        var current = versions[^1];
        var key = new VariantKey(kind, site.Id, site.DefaultLocale, site.JurisdictionMode, site.ConsentMaxAgeDays, site.RefusalReaskDays,
            current.Version, current.ContentHash, SnippetScript.Resolve(site.JurisdictionMode, http.Request), api, site.CookieDomain);
        var variant = SnippetVariants.GetOrBuild(key, (site, versions, http, api, kind), static s =>
        {
            var config = SnippetScript.Config(s.site, s.versions, s.http.Request, s.api);
            return s.kind == SnippetKind.Script
                ? new PrecompressedVariant(Encoding.UTF8.GetBytes(SnippetScript.Render(config)), "text/javascript; charset=utf-8")
                : new PrecompressedVariant(
                    JsonSerializer.SerializeToUtf8Bytes(config, s.http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions),
                    "application/json; charset=utf-8");
        });
        Headers(http, site.JurisdictionMode);
        return (variant, null);
    }

    private static readonly StringValues CacheControlHeader = CacheControl;
    private static readonly StringValues VaryEncoding = "Accept-Encoding";
    private static readonly StringValues VaryEncodingAndCountry = string.Join(", ", ["Accept-Encoding", .. SnippetScript.CountryHeaders]);

    private static void Headers(HttpContext http, JurisdictionMode mode)
    {
        var headers = http.Response.Headers;
        headers.CacheControl = CacheControlHeader;
        headers.Vary = mode == JurisdictionMode.Auto ? VaryEncodingAndCountry : VaryEncoding;
    }
}
