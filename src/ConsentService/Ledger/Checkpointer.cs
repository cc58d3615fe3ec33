using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Ledger;

/// <summary>What a checkpoint signs: a signed tree head (RFC 9162 §4.10) for one site's ledger.</summary>
public sealed record TreeHead(string SiteId, long TreeSize, string RootHash, DateTimeOffset Timestamp);

/// <summary>Where a record sits in a signed checkpoint, and the sibling hashes that prove it (RFC 9162 §2.1.3).</summary>
public sealed record InclusionProof(long LeafIndex, long TreeSize, string RootHash, DateTimeOffset SignedAt, string SignedTreeHead, IReadOnlyList<string> AuditPath);

/// <summary>Seals each site's ledger into signed Merkle checkpoints and proves records against them.</summary>
public sealed class Checkpointer(IConsentStore store, ProofSigner signer, TimeProvider time)
{
    public const string TreeHeadType = "consent-tree-head";

    /// <summary>Seals the records no checkpoint covers yet; null when there are none (or another instance just did).</summary>
    public async Task<Checkpoint?> SealAsync(string siteId, CancellationToken ct)
    {
        await signer.EnsureMaySignAsync(ct); // an instance whose key is not the active one seals nothing
        var checkpoints = await store.ListCheckpointsAsync(siteId, ct);
        var sealedSize = checkpoints is [.., var last] ? last.TreeSize : 0;
        await using (var newer = store.QueryConsentsAsync(siteId, new ConsentFilter(), sealedSize, ct).GetAsyncEnumerator(ct))
        {
            if (!await newer.MoveNextAsync())
            {
                return null; // nothing since the last checkpoint: one index lookup, not a pass over the ledger
            }
        }
        var tree = new MerkleTree.Accumulator();
        await foreach (var hash in LeafHashesAsync(siteId, long.MaxValue, ct))
        {
            tree.Append(hash);
        }
        if (tree.Size <= sealedSize)
        {
            return null;
        }
        var head = new TreeHead(siteId, tree.Size, Convert.ToHexStringLower(tree.Root()), time.Now());
        var checkpoint = new Checkpoint(siteId, head.TreeSize, head.RootHash, head.Timestamp, signer.Sign(head, TreeHeadType));
        return await store.AddCheckpointAsync(checkpoint, ct) ? checkpoint : null;
    }

    /// <summary>The record's inclusion proof in the site's latest checkpoint; null while no checkpoint covers it yet.</summary>
    public async Task<InclusionProof?> ProveAsync(ConsentRecord record, CancellationToken ct)
    {
        if (await store.ListCheckpointsAsync(record.SiteId, ct) is not [.., var latest] || latest.TreeSize < record.Position)
        {
            return null;
        }
        var leaves = new List<byte[]>();
        await foreach (var hash in LeafHashesAsync(record.SiteId, latest.TreeSize, ct))
        {
            leaves.Add(hash);
        }
        var path = MerkleTree.InclusionProof(leaves, record.Position - 1, latest.TreeSize);
        return new InclusionProof(record.Position - 1, latest.TreeSize, latest.RootHash, latest.SignedAt, latest.Signature,
            [.. path.Select(Convert.ToHexStringLower)]);
    }

    /// <summary>A consistency proof between two tree sizes of the site's ledger (RFC 9162 §2.1.4).</summary>
    public async Task<IReadOnlyList<string>?> ProveConsistencyAsync(string siteId, long first, long second, CancellationToken ct)
    {
        var leaves = new List<byte[]>();
        await foreach (var hash in LeafHashesAsync(siteId, second, ct))
        {
            leaves.Add(hash);
        }
        return leaves.Count < second ? null : [.. MerkleTree.ConsistencyProof(leaves, first, second).Select(Convert.ToHexStringLower)];
    }

    /// <summary>The leaf hashes of the site's first <paramref name="count"/> records, in ledger order.</summary>
    public async IAsyncEnumerable<byte[]> LeafHashesAsync(string siteId, long count, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var taken = 0L;
        await foreach (var record in store.QueryConsentsAsync(siteId, new ConsentFilter(), 0, ct))
        {
            if (taken++ == count) yield break;
            yield return MerkleTree.LeafHash(Convert.FromHexString(record.Hash));
        }
    }
}

public sealed class LedgerOptions
{
    public const string Section = "Ledger";

    /// <summary>How often each site's new records are sealed into a signed checkpoint.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Seals every site's new records at start-up (what an earlier run left unsealed: a restart loop shorter
/// than the interval would otherwise never seal anything), then at each interval of the (injected) clock.
/// </summary>
public sealed partial class CheckpointJob(
    IConsentStore store, Checkpointer checkpointer, TimeProvider time, Microsoft.Extensions.Options.IOptions<LedgerOptions> options,
    ILogger<CheckpointJob> logger) : BackgroundService
{
    /// <summary>
    /// Runs after StartupTasks (registered first, hosted services start in order) has initialised the
    /// store, and before the service takes requests: the records of earlier runs are sealed once it answers.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var siteId in await store.ListSiteIdsAsync(cancellationToken))
        {
            try
            {
                await SealSiteAsync(siteId, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(e, siteId); // the next interval tries again; a failed seal must not stop the service
            }
        }
        await base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        SiteJobs.RunEveryAsync(options.Value.CheckpointInterval, time, store, SealSiteAsync, LogFailed, stoppingToken);

    private async Task SealSiteAsync(string siteId, CancellationToken ct)
    {
        if (await checkpointer.SealAsync(siteId, ct) is { } sealedHead)
        {
            LogSealed(siteId, sealedHead.TreeSize);
        }
    }

    [LoggerMessage(LogLevel.Information, "Sealed site {SiteId} at tree size {TreeSize}")]
    private partial void LogSealed(string siteId, long treeSize);

    [LoggerMessage(LogLevel.Error, "Sealing site {SiteId} failed")]
    private partial void LogFailed(Exception e, string siteId);
}
