using ConsentService.Consents;
using ConsentService.Storage;

namespace ConsentService.Ledger;

/// <summary>
/// What a receipt signs: the record's hashed form, member for member as <see cref="ConsentChain.HashedForm"/>
/// builds it (purposes, method, policy hash, subject and source commitments, time, position, prevHash), and
/// its <see cref="Hash"/>. Anyone holding the receipt recomputes SHA-256 over the canonical JSON of
/// <see cref="Record"/>, compares it with <see cref="Hash"/>, and checks the signature with the public key
/// set: no access to the service or its database is needed (scripts/verify-receipt.mjs does exactly that).
/// </summary>
public sealed record ConsentReceipt(System.Text.Json.Nodes.JsonObject Record, string Hash)
{
    public const string Type = "consent-receipt";

    public static ConsentReceipt For(ConsentRecord r) => new(ConsentChain.HashedForm(r), r.Hash);
}

/// <summary>A checkpoint as the API shows it: <see cref="SignedTreeHead"/> is the JWS over the tree head.</summary>
public sealed record CheckpointView(long TreeSize, string RootHash, DateTimeOffset SignedAt, string SignedTreeHead)
{
    public static CheckpointView From(Checkpoint c) => new(c.TreeSize, c.RootHash, c.SignedAt, c.Signature);
}

public sealed record ConsistencyProofView(long First, long Second, string FirstRootHash, string SecondRootHash, IReadOnlyList<string> Proof);

/// <summary>A JSON Web Key Set (RFC 7517 §5) with the service's public signing key.</summary>
public sealed record SigningKeySet(IReadOnlyList<System.Text.Json.Nodes.JsonObject> Keys);
