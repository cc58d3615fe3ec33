using ConsentService.Consents;

namespace ConsentService.Storage;

/// <summary>
/// The records of one site that one commit made durable together, in ledger order (consecutive positions).
/// Their receipts share one signature over a Merkle root of their hashes (Ledger/ReceiptIssuer): group commit
/// already shares the sync to disk, this shares the ECDSA signature too. Whoever asks first signs; the others
/// reuse what it made (<see cref="GetOrAdd{T}"/>).
/// </summary>
public sealed class CommitBatch
{
    private readonly Lock _gate = new();
    private object? _sealed;

    public CommitBatch(IReadOnlyList<ConsentRecord> records)
    {
        ArgumentOutOfRangeException.ThrowIfZero(records.Count);
        Records = records;
    }

    public IReadOnlyList<ConsentRecord> Records { get; }

    /// <summary>Where <paramref name="record"/> sits in the batch, or -1 when it is not one of its records.</summary>
    public int IndexOf(ConsentRecord record)
    {
        var index = record.Position - Records[0].Position;
        return index >= 0 && index < Records.Count && Records[(int)index].Id == record.Id ? (int)index : -1;
    }

    /// <summary>
    /// What <paramref name="make"/> makes of the batch, made once: concurrent callers wait for the first. A
    /// <paramref name="make"/> that throws leaves nothing behind, so the next caller tries again.
    /// </summary>
    public T GetOrAdd<T>(Func<CommitBatch, T> make) where T : class
    {
        if (Volatile.Read(ref _sealed) is T made) return made;
        lock (_gate)
        {
            if (_sealed is T again) return again;
            var value = make(this);
            Volatile.Write(ref _sealed, value);
            return value;
        }
    }

    /// <summary>
    /// The batches of one commit: its appended records grouped by site, in ledger order, split where positions
    /// are not consecutive (they always are within one transaction; the split keeps a receipt's
    /// "position = first position + leaf index" true whatever happens).
    /// </summary>
    public static IEnumerable<CommitBatch> Of(IEnumerable<ConsentRecord> appended)
    {
        foreach (var site in appended.GroupBy(r => r.SiteId, StringComparer.Ordinal))
        {
            var run = new List<ConsentRecord>();
            foreach (var record in site.OrderBy(r => r.Position))
            {
                if (run.Count > 0 && record.Position != run[^1].Position + 1)
                {
                    yield return new CommitBatch(run);
                    run = [];
                }
                run.Add(record);
            }
            if (run.Count > 0) yield return new CommitBatch(run);
        }
    }
}
