using ConsentService.Infrastructure;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Ledger;

public static class LedgerEndpoints
{
    public static IEndpointRouteBuilder MapLedgerEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/.well-known/consent-signing-key", async (SigningKeyRing ring, HttpContext http, CancellationToken ct) =>
            {
                // Short: a client that meets an unknown kid after a rotation fetches again within a minute at worst.
                http.Response.Headers.CacheControl = "public, max-age=60";
                var keys = await ring.GetAsync(ct);
                return TypedResults.Json(new SigningKeySet([.. keys.OrderByDescending(k => k.IsActive).ThenByDescending(k => k.ActivatedAt).Select(SigningKeyRing.ToJwk)]), JsonDefaults.Options, "application/jwk-set+json");
            })
            .WithName("GetSigningKey")
            .WithTags("Ledger")
            .WithSummary("Every public key (JWK set, ES256) the deployment has signed receipts and checkpoints with, the active one first")
            .WithDescription("Pick the key by the JWS header's kid. Besides the JWK members each key has status (active, retired or compromised), " +
                "activatedAt, and when so retiredAt (it stopped signing) and compromisedAt (its signatures from then on are not to be trusted).");

        var ledger = routes.MapGroup("/v1/sites/{siteId}/ledger").WithTags("Ledger");

        ledger.MapGet("/verify", async (string siteId, LedgerVerifier verifier, CancellationToken ct) =>
                TypedResults.Ok(await verifier.VerifyAsync(siteId, ct)))
            .WithName("VerifyLedger")
            .WithSummary("Recompute record hashes, positions, subject chains and checkpoint roots; report the first break")
            .RequireSiteRole(SiteRole.Legal);

        ledger.MapGet("/checkpoints", async (string siteId, IConsentStore store, CancellationToken ct) =>
                TypedResults.Ok<IReadOnlyList<CheckpointView>>([.. (await store.ListCheckpointsAsync(siteId, ct)).Select(CheckpointView.From)]))
            .WithName("ListCheckpoints")
            .WithSummary("The site's signed checkpoints (Merkle tree heads), smallest first")
            .RequireSiteRole(SiteRole.Legal);

        ledger.MapPost("/checkpoints", Seal)
            .WithName("SealCheckpoint")
            .WithSummary("Seal the records no checkpoint covers yet, now rather than at the next interval")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable) // this instance's key is not the active one
            .RequireSiteRole(SiteRole.Admin);

        ledger.MapGet("/consistency", Consistency)
            .WithName("GetConsistencyProof")
            .WithSummary("Proof that the tree of the first 'first' records is a prefix of the tree of 'second' (RFC 9162 §2.1.4)")
            .RequireSiteRole(SiteRole.Legal);

        return routes;
    }

    private static async Task<Results<Created<CheckpointView>, NoContent>> Seal(string siteId, Checkpointer checkpointer, CancellationToken ct) =>
        await checkpointer.SealAsync(siteId, ct) is { } sealedHead
            ? TypedResults.Created($"/v1/sites/{siteId}/ledger/checkpoints", CheckpointView.From(sealedHead))
            : TypedResults.NoContent();

    private static async Task<Results<Ok<ConsistencyProofView>, ValidationProblem>> Consistency(
        string siteId, long first, long second, IConsentStore store, Checkpointer checkpointer, CancellationToken ct)
    {
        var checkpoints = await store.ListCheckpointsAsync(siteId, ct);
        var from = checkpoints.FirstOrDefault(c => c.TreeSize == first);
        var to = checkpoints.FirstOrDefault(c => c.TreeSize == second);
        var errors = new ValidationErrors();
        if (from is null) errors.Add("first", $"No checkpoint of tree size {first}.");
        if (to is null) errors.Add("second", $"No checkpoint of tree size {second}.");
        else if (from is not null && first > second) errors.Add("first", "Must not be larger than 'second'.");
        if (!errors.IsEmpty || from is null || to is null)
        {
            return errors.ToProblem();
        }
        var proof = await checkpointer.ProveConsistencyAsync(siteId, first, second, ct);
        return proof is null
            ? Problems.Validation("second", "The ledger no longer holds that many records in order; run ledger/verify.")
            : TypedResults.Ok(new ConsistencyProofView(first, second, from.RootHash, to.RootHash, proof));
    }
}
