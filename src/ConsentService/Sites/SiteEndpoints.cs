using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Sites;

public static class SiteEndpoints
{
    public static IEndpointRouteBuilder MapSiteEndpoints(this IEndpointRouteBuilder routes)
    {
        var sites = routes.MapGroup("/v1/sites").WithTags("Sites");

        sites.MapPost("/", Create)
            .WithName("CreateSite")
            .WithSummary("Create a site with its first admin key and the default policy as version 1")
            .RequireOperator();
        sites.MapGet("/", List)
            .WithName("ListSites")
            .WithSummary("Every site, by id (the operator's site picker)")
            .RequireOperator();

        var site = sites.MapGroup("/{siteId}");
        site.MapGet("/", (string siteId, SiteDirectory directory, CancellationToken ct) => Get(siteId, directory, ct))
            .WithName("GetSite").WithSummary("Read a site").RequireSiteRole(SiteRole.Admin);
        site.MapPatch("/", Update)
            .WithName("UpdateSite").WithSummary("Change name, origins, locale, jurisdiction mode or lifetimes").RequireSiteRole(SiteRole.Admin);

        var keys = site.MapGroup("/keys").WithTags("API keys").RequireSiteRole(SiteRole.Admin);
        keys.MapPost("/", IssueKey).WithName("IssueApiKey").WithSummary("Issue a key; the secret is shown only in this response");
        keys.MapGet("/", ListKeys).WithName("ListApiKeys").WithSummary("List the site's keys (never their secrets)");
        keys.MapDelete("/{keyId}", RevokeKey).WithName("RevokeApiKey").WithSummary("Revoke a key; it is refused from the next request on");
        return routes;
    }

    private static async Task<Results<Created<SiteCreated>, ValidationProblem>> Create(
        CreateSiteRequest request, SiteDirectory sites, PolicyCatalog policies, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var origins = NormalizeOrigins(request.AllowedOrigins, errors);
        if (!errors.IsEmpty) return errors.ToProblem();

        var site = await sites.CreateAsync(request, origins ?? [], siteId: null, ct);
        var adminKey = await sites.IssueKeyAsync(site.Id, SiteRole.Admin, "initial admin key", ct);
        var policy = await policies.PublishAsync(site.Id, DefaultPolicy.Content, material: true, ct);
        return TypedResults.Created($"/v1/sites/{site.Id}", new SiteCreated(site.Id, site, adminKey, policy.Version));
    }

    /// <summary>Through the site cache, one read per site: deployments hold tens to thousands of sites, not millions.</summary>
    private static async Task<Ok<List<Site>>> List(IConsentStore store, SiteDirectory sites, CancellationToken ct)
    {
        var list = new List<Site>();
        foreach (var id in await store.ListSiteIdsAsync(ct))
        {
            if (await sites.GetAsync(id, ct) is { } site) list.Add(site);
        }
        return TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<Site>, ProblemHttpResult>> Get(string siteId, SiteDirectory sites, CancellationToken ct) =>
        await sites.GetAsync(siteId, ct) is { } site ? TypedResults.Ok(site) : Problems.SiteNotFound(siteId);

    private static async Task<Results<Ok<Site>, ValidationProblem, ProblemHttpResult>> Update(
        string siteId, UpdateSiteRequest patch, SiteDirectory sites, CancellationToken ct)
    {
        var site = await sites.GetAsync(siteId, ct);
        if (site is null) return Problems.SiteNotFound(siteId);
        var errors = new ValidationErrors();
        var origins = NormalizeOrigins(patch.AllowedOrigins, errors);
        if (!errors.IsEmpty) return errors.ToProblem();
        return TypedResults.Ok(await sites.UpdateAsync(site, patch, origins, ct));
    }

    private static List<string>? NormalizeOrigins(IReadOnlyList<string>? origins, ValidationErrors errors)
    {
        if (origins is null) return null;
        var normalized = new List<string>();
        for (var i = 0; i < origins.Count; i++)
        {
            if (SiteRules.NormalizeOrigin(origins[i]) is { } origin)
            {
                normalized.Add(origin);
            }
            else
            {
                errors.Add($"allowedOrigins[{i}]", "An origin is scheme, host and optional port, e.g. 'https://shop.example'.");
            }
        }
        return normalized.Distinct(StringComparer.Ordinal).ToList();
    }

    private static async Task<Created<IssuedApiKey>> IssueKey(string siteId, IssueApiKeyRequest request, SiteDirectory sites, CancellationToken ct)
    {
        var issued = await sites.IssueKeyAsync(siteId, request.Role, request.Label, ct);
        return TypedResults.Created($"/v1/sites/{siteId}/keys/{issued.Id}", issued);
    }

    private static async Task<Ok<IReadOnlyList<ApiKeySummary>>> ListKeys(string siteId, SiteDirectory sites, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<ApiKeySummary>>((await sites.ListKeysAsync(siteId, ct)).Select(ApiKeySummary.From).ToList());

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(string siteId, string keyId, SiteDirectory sites, CancellationToken ct) =>
        await sites.RevokeKeyAsync(siteId, keyId, ct)
            ? TypedResults.NoContent()
            : Problems.NotFound($"Key '{keyId}' was not found on site '{siteId}'.");
}
