using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Ledger;

/// <summary>
/// What a batch head signs (JWS <c>typ</c> <see cref="ReceiptIssuer.HeadType"/>): the Merkle root over the record hashes
/// of one site's commit batch, how many records it covers and the ledger position of the first, the signing key and
/// the time. A record at leaf <c>i</c> of the batch has position <see cref="FirstPosition"/> + i.
/// </summary>
public sealed record BatchHead(string SiteId, string Kid, long TreeSize, string RootHash, long FirstPosition, DateTimeOffset Timestamp);

/// <summary>
/// Issues receipts: one ES256 signature per commit batch (<see cref="CommitBatch"/>), made by the first of its
/// requests to answer, and to each record of the batch its leaf index and audit path in the batch's Merkle tree.
/// A record outside a batch (an idempotent replay, a store that commits one by one, a receipt asked for later)
/// gets a batch of its own: a tree of one leaf, an empty path.
/// </summary>
public sealed class ReceiptIssuer(ProofSigner signer, TimeProvider time)
{
    public const string HeadType = "consent-batch-head";

    /// <exception cref="SigningRefusedException">This instance's key is not the deployment's active key.</exception>
    public ConsentReceipt Issue(ConsentRecord record, CommitBatch? batch)
    {
        var index = batch?.IndexOf(record) ?? -1;
        var signed = index >= 0 ? batch!.GetOrAdd(b => Sign(b.Records)) : Sign([record]);
        index = Math.Max(index, 0);
        var path = MerkleTree.PathFrom(signed.Levels, index);
        var hexPath = new string[path.Count];
        for (var i = 0; i < hexPath.Length; i++) hexPath[i] = Convert.ToHexStringLower(path[i]);
        return new ConsentReceipt(ConsentChain.HashedForm(record), record.Hash, index, hexPath, signed.Head);
    }

    private sealed record SignedBatch(IReadOnlyList<byte[][]> Levels, string Head);

    private SignedBatch Sign(IReadOnlyList<ConsentRecord> records)
    {
        var leaves = new byte[records.Count][];
        for (var i = 0; i < leaves.Length; i++) leaves[i] = MerkleTree.LeafHash(Convert.FromHexString(records[i].Hash));
        var levels = MerkleTree.Levels(leaves);
        var head = new BatchHead(records[0].SiteId, signer.KeyId, records.Count, Convert.ToHexStringLower(levels[^1][0]), records[0].Position, time.Now());
        return new SignedBatch(levels, signer.Sign(head, HeadType));
    }
}
