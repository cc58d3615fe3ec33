using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Ledger;

/// <summary>The first place where the stored ledger stops agreeing with itself.</summary>
public sealed record LedgerBreak(string Kind, string Detail, string? RecordId = null, long? Position = null, long? TreeSize = null);

public sealed record LedgerReport(bool Valid, long Records, long Chains, int Checkpoints, DateTimeOffset VerifiedAt, LedgerBreak? FirstBreak);

/// <summary>
/// Recomputes a site's ledger from what is stored: every record's hash, the ledger positions against
/// the ledger head, each subject's chain, commitments and head, and every signed checkpoint's root.
/// Streams the records (twice: in ledger order, then chain by chain with each subject's key joined);
/// memory grows only with the number of checkpoints.
/// </summary>
public sealed class LedgerVerifier(IConsentStore store, SigningKeyRing signingKeys, TimeProvider time)
{
    public async Task<LedgerReport> VerifyAsync(string siteId, CancellationToken ct)
    {
        var checkpoints = await store.ListCheckpointsAsync(siteId, ct);
        // Read before the records: positions only grow, so the stream below holds at least this many.
        var ledgerHead = await store.GetLedgerHeadAsync(siteId, ct);
        var keys = await signingKeys.GetAsync(ct, fresh: true);
        LedgerBreak? found = null;
        void Found(LedgerBreak b) => found ??= b;

        // 1. The ledger in position order: hashes, no gap, and each checkpoint's root as its size is reached.
        var tree = new MerkleTree.Accumulator();
        var next = 0;
        await foreach (var record in store.QueryConsentsAsync(siteId, new ConsentFilter(), 0, ct))
        {
            if (record.Position != tree.Size + 1)
            {
                Found(new("position-gap", $"Expected ledger position {tree.Size + 1}, found {record.Position}: a record was deleted or moved.",
                    record.Id, record.Position));
                break; // later roots would only repeat this break
            }
            if (ConsentChain.Hash(record) != record.Hash)
            {
                Found(new("record-altered", "The record's content no longer hashes to its stored hash.", record.Id, record.Position));
            }
            if (record.Position == ledgerHead.Size && record.Hash != ledgerHead.LastHash)
            {
                Found(new("ledger-head-mismatch", "The site's ledger head names another hash for this position: the record was replaced.",
                    record.Id, record.Position));
            }
            tree.Append(MerkleTree.LeafHash(Convert.FromHexString(record.Hash)));
            for (; next < checkpoints.Count && checkpoints[next].TreeSize == tree.Size; next++)
            {
                CheckCheckpoint(checkpoints[next], tree.Root(), keys, Found);
            }
        }
        for (; next < checkpoints.Count; next++)
        {
            var checkpoint = checkpoints[next];
            if (checkpoint.TreeSize > tree.Size)
            {
                Found(new("checkpoint-beyond-ledger", $"A checkpoint sealed {checkpoint.TreeSize} records; the ledger holds {tree.Size} in order.",
                    TreeSize: checkpoint.TreeSize));
            }
        }

        if (tree.Size < ledgerHead.Size && found is null)
        {
            Found(new("ledger-truncated", $"The site's ledger head counts {ledgerHead.Size} records; {tree.Size} remain: the newest were deleted.",
                Position: tree.Size + 1));
        }

        // 2. Each subject's chain (by commitment, so erased subjects are checked too), its commitments
        //    recomputed under the subject's key while the key exists, and its head against its last record.
        long chains = 0;
        string? commitment = null;
        ChainLink? previous = null;
        await foreach (var link in store.ReadChainsAsync(siteId, ct))
        {
            var record = link.Record;
            if (record.SubjectCommitment != commitment)
            {
                CheckHead(previous, Found);
                (commitment, previous) = (record.SubjectCommitment, null);
                chains++;
            }
            var expected = (previous?.Record.Sequence ?? 0) + 1;
            if (record.Sequence != expected)
            {
                Found(new("chain-gap", $"Expected sequence {expected} in this subject's chain, found {record.Sequence}.", record.Id, record.Position));
            }
            else if (record.PrevHash != previous?.Record.Hash)
            {
                Found(new("chain-broken", "The record's prevHash is not the hash of the subject's previous record.", record.Id, record.Position));
            }
            CheckCommitments(link, previous, Found);
            previous = link;
        }
        CheckHead(previous, Found);

        return new LedgerReport(found is null, tree.Size, chains, checkpoints.Count, time.Now(), found);
    }

    /// <summary>
    /// The subject commitment is HMAC(subject key, subject id) and the source commitment HMAC(subject key,
    /// canonical source): recomputed, they show a record moved to another subject or a rewritten source.
    /// Erased records (no id, no key) have nothing left to recompute; their hashes still hold them.
    /// </summary>
    private static void CheckCommitments(ChainLink link, ChainLink? previous, Action<LedgerBreak> found)
    {
        var record = link.Record;
        if (previous is not null && previous.Record.SubjectId != record.SubjectId)
        {
            found(new("subject-mismatch", "Records of one chain name different subjects (or only some of them were erased).", record.Id, record.Position));
        }
        if (link.Subject is not { } subject)
        {
            if (record.SubjectId is not null)
            {
                found(new("subject-key-missing", "The record names a subject the store holds no key for.", record.Id, record.Position));
            }
            return;
        }
        if (ConsentChain.Commit(subject.SubjectKey, record.SubjectId!) != record.SubjectCommitment)
        {
            found(new("subject-mismatch", "The record's subject id does not commit to its subject commitment: it was moved to another subject.",
                record.Id, record.Position));
        }
        else if (ConsentChain.CommitSource(subject.SubjectKey, record.Source) != record.SourceCommitment)
        {
            found(new("source-altered", "The record's source (URL, locale, user agent, IP prefix) no longer commits to its source commitment.",
                record.Id, record.Position));
        }
    }

    /// <summary>
    /// The stored head must be the chain's last record. Appends and checks no longer trust it (they read
    /// the chain's end by commitment), but a head pointed back at an older record is the trace of an edit.
    /// </summary>
    private static void CheckHead(ChainLink? last, Action<LedgerBreak> found)
    {
        if (last?.Subject is not { } head || ConsentChain.Commit(head.SubjectKey, last.Record.SubjectId!) != last.Record.SubjectCommitment)
        {
            return; // erased, or another subject's head (reported as subject-mismatch)
        }
        var record = last.Record;
        if (head.RecordId != record.Id || head.Sequence != record.Sequence || head.Hash != record.Hash)
        {
            found(new("head-mismatch",
                $"The subject's stored head points at sequence {head.Sequence}, but its chain ends at sequence {record.Sequence}.",
                record.Id, record.Position));
        }
    }

    private static void CheckCheckpoint(Checkpoint checkpoint, byte[] root, IReadOnlyList<SigningKey> keys, Action<LedgerBreak> found)
    {
        if (!Convert.FromHexString(checkpoint.RootHash).AsSpan().SequenceEqual(root))
        {
            found(new("checkpoint-mismatch", "The records no longer hash to the root this checkpoint signed.", TreeSize: checkpoint.TreeSize));
            return;
        }
        // Each signature with the key its header names, from the deployment's published set.
        var check = SigningKeyRing.Verify(checkpoint.Signature, keys);
        if (check.Key is null)
        {
            found(new("checkpoint-unknown-key", $"The checkpoint names signing key '{check.Kid}', which is not in the deployment's key set.", TreeSize: checkpoint.TreeSize));
            return;
        }
        var head = check.Payload;
        if (head is null
            || head["treeSize"]?.GetValue<long>() != checkpoint.TreeSize
            || head["rootHash"]?.GetValue<string>() != checkpoint.RootHash
            || head["siteId"]?.GetValue<string>() != checkpoint.SiteId)
        {
            found(new("checkpoint-signature", "The checkpoint's signature does not hold for its tree head.", TreeSize: checkpoint.TreeSize));
            return;
        }
        // A key thief can sign anything: what it signed from the compromise on proves nothing (by either time it shows).
        var signedAt = head["timestamp"]?.GetValue<DateTimeOffset>() is { } stamped && stamped > checkpoint.SignedAt ? stamped : checkpoint.SignedAt;
        if (check.Key.CompromisedAt is { } compromised && signedAt >= compromised)
        {
            found(new("checkpoint-compromised-key", $"The checkpoint was signed at {signedAt:O} with key '{check.Key.Kid}', compromised from {compromised:O}.",
                TreeSize: checkpoint.TreeSize));
        }
    }
}
