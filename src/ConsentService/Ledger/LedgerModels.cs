using ConsentService.Consents;
using ConsentService.Storage;

namespace ConsentService.Ledger;

/// <summary>
/// A consent receipt: the record's hashed form, member for member as <see cref="ConsentChain.HashedForm"/> builds it
/// (purposes, method, policy hash, subject and source commitments, time, position, prevHash), its <see cref="Hash"/>,
/// and where that hash sits in the Merkle tree of its commit batch: <see cref="LeafIndex"/> and the RFC 9162
/// <see cref="AuditPath"/> up to the root that <see cref="BatchHead"/> (a compact JWS over a <see cref="Ledger.BatchHead"/>)
/// signs. One signature per commit batch serves every receipt of the batch, and each receipt still verifies alone:
/// recompute the hash from <see cref="Record"/>, climb the path to the root, check the head's ES256 signature with the
/// key its <c>kid</c> names in the JWK set (scripts/receipt-check.mjs does exactly that, offline).
/// </summary>
public sealed record ConsentReceipt(System.Text.Json.Nodes.JsonObject Record, string Hash, long LeafIndex, IReadOnlyList<string> AuditPath, string BatchHead);

/// <summary>A checkpoint as the API shows it: <see cref="SignedTreeHead"/> is the JWS over the tree head.</summary>
public sealed record CheckpointView(long TreeSize, string RootHash, DateTimeOffset SignedAt, string SignedTreeHead)
{
    public static CheckpointView From(Checkpoint c) => new(c.TreeSize, c.RootHash, c.SignedAt, c.Signature);
}

public sealed record ConsistencyProofView(long First, long Second, string FirstRootHash, string SecondRootHash, IReadOnlyList<string> Proof);

/// <summary>A JSON Web Key Set (RFC 7517 §5) with the service's public signing key.</summary>
public sealed record SigningKeySet(IReadOnlyList<System.Text.Json.Nodes.JsonObject> Keys);
