using ConsentService.Consents;
using ConsentService.Storage;

namespace ConsentService.Ledger;

/// <summary>What a receipt signs: enough to find the record and prove its content (via the hash) later.</summary>
public sealed record ConsentReceipt(
    string RecordId, string SiteId, long Sequence, long Position, string Hash, string? PrevHash,
    int PolicyVersion, string PolicyHash, DateTimeOffset RecordedAt)
{
    public const string Type = "consent-receipt";

    public static ConsentReceipt For(ConsentRecord r) =>
        new(r.Id, r.SiteId, r.Sequence, r.Position, r.Hash, r.PrevHash, r.PolicyVersion, r.PolicyHash, r.RecordedAt);
}

/// <summary>A checkpoint as the API shows it: <see cref="SignedTreeHead"/> is the JWS over the tree head.</summary>
public sealed record CheckpointView(long TreeSize, string RootHash, DateTimeOffset SignedAt, string SignedTreeHead)
{
    public static CheckpointView From(Checkpoint c) => new(c.TreeSize, c.RootHash, c.SignedAt, c.Signature);
}

public sealed record ConsistencyProofView(long First, long Second, string FirstRootHash, string SecondRootHash, IReadOnlyList<string> Proof);

/// <summary>A JSON Web Key Set (RFC 7517 §5) with the service's public signing key.</summary>
public sealed record SigningKeySet(IReadOnlyList<System.Text.Json.Nodes.JsonObject> Keys);
