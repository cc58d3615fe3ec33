using ConsentService.Infrastructure;
using ConsentService.Sites;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Policies;

public static class PolicyEndpoints
{
    public static IEndpointRouteBuilder MapPolicyEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/policy-template", () => TypedResults.Ok(DefaultPolicy.Content))
            .WithTags("Policies").WithName("GetPolicyTemplate")
            .WithSummary("The default policy content new sites start with: a starting point for your own");

        var policies = routes.MapGroup("/v1/sites/{siteId}/policies").WithTags("Policies");
        policies.MapPost("/", Publish)
            .WithName("PublishPolicy")
            .WithSummary("Publish a new immutable policy version")
            .RequireSiteRole(SiteRole.Admin);
        policies.MapGet("/", List).WithName("ListPolicies").WithSummary("The site's policy versions, oldest first");
        policies.MapGet("/{version:int}", Get).WithName("GetPolicy").WithSummary("One policy version in full");
        return routes;
    }

    private static async Task<Results<Created<PolicyVersionResponse>, ValidationProblem>> Publish(
        string siteId, PublishPolicyRequest request, PolicyCatalog policies, CancellationToken ct)
    {
        var errors = PolicyValidator.Validate(request);
        if (!errors.IsEmpty) return errors.ToProblem();
        var content = new PolicyContent(request.Purposes, request.Texts, request.PrivacyPolicyUrl);
        var policy = await policies.PublishAsync(siteId, content, request.Material, ct);
        return TypedResults.Created($"/v1/sites/{siteId}/policies/{policy.Version}", PolicyVersionResponse.From(policy));
    }

    private static async Task<Results<Ok<IReadOnlyList<PolicySummary>>, ProblemHttpResult>> List(
        string siteId, SiteDirectory sites, PolicyCatalog policies, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is null) return Problems.SiteNotFound(siteId);
        var list = await policies.ListAsync(siteId, ct);
        return TypedResults.Ok<IReadOnlyList<PolicySummary>>(
            list.Select(p => new PolicySummary(p.Version, p.PublishedAt, p.ContentHash, p.Material)).ToList());
    }

    private static async Task<Results<Ok<PolicyVersionResponse>, ProblemHttpResult>> Get(
        string siteId, int version, PolicyCatalog policies, CancellationToken ct) =>
        await policies.GetAsync(siteId, version, ct) is { } policy
            ? TypedResults.Ok(PolicyVersionResponse.From(policy))
            : Problems.NotFound($"Site '{siteId}' has no policy version {version}.");
}
