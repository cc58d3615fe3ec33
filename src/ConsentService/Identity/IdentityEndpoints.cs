using System.Text.Json;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Snippet;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Identity;

/// <summary>Identified users (issue 15 §1): identity secrets for the site's back end, and the snippet's identify call.</summary>
public static class IdentityEndpoints
{
    private const int MaxBodyBytes = 8 * 1024;

    public static IEndpointRouteBuilder MapIdentityEndpoints(this IEndpointRouteBuilder routes)
    {
        var secrets = routes.MapGroup("/v1/sites/{siteId}/identity-secrets").WithTags("Identified users").RequireSiteRole(SiteRole.Admin);
        secrets.MapPost("/", Issue).WithName("IssueIdentitySecret")
            .WithSummary("Issue an identity secret (shown only in this response) the site's back end signs subject tokens with (HS256, kid = its id)");
        secrets.MapGet("/", List).WithName("ListIdentitySecrets").WithSummary("List the site's identity secrets (never their values)");
        secrets.MapDelete("/{keyId}", Revoke).WithName("RevokeIdentitySecret").WithSummary("Revoke an identity secret; tokens signed with it are refused at once");

        routes.MapGroup("/v1/sites/{siteId}").WithTags("Identified users").MapPost("/identify", Identify)
            .WithName("IdentifySubject")
            .WithSummary("Tie the browser's anonymous subject to the site's user id and answer the user's current decision")
            .WithDescription("Public (no secret): takes application/json or text/plain JSON {subjectToken, subjectId?, subjectSecret?}. " +
                "The subject token is an HS256 JWT the site's back end signs with an identity secret (kid, aud = site id, sub = user id, iat, exp ≤ 1 h). " +
                "With the anonymous subject's id and write secret, that subject is linked to the user (its history follows the user's in history, " +
                "export and erasure) and, when the user has no decision yet, its current one is recorded for the user.")
            .Accepts<IdentifyRequest>("application/json", "text/plain")
            .WithMetadata(new BodySizeLimit(MaxBodyBytes))
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSnippetCors();
        return routes;
    }

    private static async Task<Results<Created<IssuedIdentitySecret>, ProblemHttpResult>> Issue(
        string siteId, IConsentStore store, IdentitySecretVault vault, CancellationToken ct)
    {
        var active = (await store.ListIdentitySecretsAsync(siteId, ct)).Count(s => s.RevokedAt is null);
        if (active >= IdentitySecretVault.MaxActive)
        {
            return Problems.Status(StatusCodes.Status409Conflict, ProblemTypes.Validation, "Too many active identity secrets.",
                $"A site has at most {IdentitySecretVault.MaxActive} active identity secrets; revoke the one the back end no longer signs with first.");
        }
        var issued = await vault.IssueAsync(siteId, ct);
        return TypedResults.Created($"/v1/sites/{siteId}/identity-secrets/{issued.Id}", issued);
    }

    private static async Task<Ok<IReadOnlyList<IdentitySecretSummary>>> List(string siteId, IConsentStore store, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<IdentitySecretSummary>>([.. (await store.ListIdentitySecretsAsync(siteId, ct)).Select(IdentitySecretSummary.From)]);

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(
        string siteId, string keyId, IConsentStore store, TimeProvider time, CancellationToken ct) =>
        await store.RevokeIdentitySecretAsync(siteId, keyId, time.Now(), ct)
            ? TypedResults.NoContent()
            : Problems.NotFound($"Identity secret '{keyId}' was not found on site '{siteId}'.");

    private static async Task<Results<Ok<IdentifiedConsent>, ValidationProblem, ProblemHttpResult>> Identify(
        string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, ConsentLedger ledger, IConsentStore store,
        SubjectTokens tokens, TimeProvider time, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is null)
        {
            return Problems.SiteNotFound(siteId);
        }
        var (request, unreadable) = await JsonBody.ReadAsync<IdentifyRequest>(http.Request, MaxBodyBytes, ct);
        if (request is null)
        {
            return unreadable!;
        }
        var errors = new ValidationErrors();
        string? userId = null;
        if (request.SubjectToken is not { } token)
        {
            errors.Add("subjectToken", "The subject token the site's back end minted for the signed-in user.");
        }
        else
        {
            var verdict = await tokens.ValidateAsync(siteId, token, ct);
            userId = verdict.UserId;
            if (verdict.Error is { } error) errors.Add("subjectToken", error);
        }
        if (request.SubjectId is { } anonymous && !SubjectIds.IsRandom(anonymous))
        {
            errors.Add("subjectId", "The browser's anonymous id: 'sub_' followed by 22 random base64url characters.");
        }
        if ((request.SubjectId is null) != (request.SubjectSecret is null) || (request.SubjectSecret is { } s && !SubjectSecrets.IsWellFormed(s)))
        {
            errors.Add("subjectSecret", "subjectId and subjectSecret come together: " + SubjectSecrets.Rule);
        }
        if (!errors.IsEmpty || userId is null)
        {
            return errors.ToProblem();
        }

        var linked = false;
        if (request.SubjectId is { } anonymousId)
        {
            // Only a browser holding the anonymous subject's write secret may tie its history to a user:
            // knowing a sub_ id (they travel to analytics tools) is not enough.
            linked = await store.LinkSubjectAsync(siteId, userId, anonymousId, SubjectSecrets.Hash(request.SubjectSecret!), time.Now(), ct);
            if (linked)
            {
                await CarryOverAsync(siteId, userId, anonymousId, policies, ledger, ct);
            }
        }
        var current = await ledger.CurrentAsync(siteId, userId, ct);
        return TypedResults.Ok(new IdentifiedConsent(linked, current?.PolicyVersion, current?.Purposes, current?.Method, current?.RecordedAt));
    }

    /// <summary>
    /// A visitor who decided before signing in keeps that decision as the user's, when the user has none yet:
    /// recorded as a new record of the user's chain (a ledger fact, with its own receipt-able hash) whose
    /// request fingerprint names the anonymous record it came from. The anonymous history stays as it was.
    /// </summary>
    private static async Task CarryOverAsync(string siteId, string userId, string anonymousId, PolicyCatalog policies, ConsentLedger ledger, CancellationToken ct)
    {
        if (await ledger.CurrentAsync(siteId, userId, ct) is not null || await ledger.CurrentAsync(siteId, anonymousId, ct) is not { } decided)
        {
            return;
        }
        if (await policies.GetAsync(siteId, decided.PolicyVersion, ct) is not { } policy)
        {
            return;
        }
        var fingerprint = CanonicalJson.Sha256Hex(JsonSerializer.SerializeToNode(new { linkedFrom = decided.Hash }, JsonDefaults.Options));
        await ledger.RecordAsync(siteId, new ConsentDecision(userId, policy, decided.Purposes, decided.Method, decided.Source, null, fingerprint), ct);
    }
}

public static class IdentitySetup
{
    public static WebApplicationBuilder AddIdentifiedUsers(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IdentitySecretVault>();
        builder.Services.AddSingleton<SubjectTokens>();
        return builder;
    }
}
