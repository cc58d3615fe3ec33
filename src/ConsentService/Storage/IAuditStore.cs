using ConsentService.Audit;

namespace ConsentService.Storage;

/// <summary>
/// The audit log, apart from the consent store: its own file or collection, its own retention.
/// Append-only: nothing here changes an event but <see cref="TombstoneAsync"/>, which only empties one;
/// <see cref="DeleteOlderThanAsync"/> is retention.
/// Every adapter passes <c>AuditStoreContract</c>.
/// </summary>
public interface IAuditStore
{
    /// <summary>Creates tables or indexes; idempotent.</summary>
    Task InitializeAsync(CancellationToken ct);

    Task<bool> PingAsync(CancellationToken ct);

    Task AppendAsync(AuditEvent auditEvent, CancellationToken ct);

    /// <summary>
    /// Up to <paramref name="limit"/> events of the site matching <paramref name="filter"/>, newest first,
    /// strictly after <paramref name="after"/> (a previous page's <see cref="AuditPage.Next"/>). Events
    /// appended meanwhile are newer than the first page, so they never make a later page skip or repeat one.
    /// </summary>
    Task<AuditPage> QueryAsync(string siteId, AuditFilter filter, AuditPosition? after, int limit, CancellationToken ct);

    /// <summary>Every matching event, newest first, read in batches so memory stays flat however many there are.</summary>
    IAsyncEnumerable<AuditEvent> ExportAsync(string siteId, AuditFilter filter, CancellationToken ct);

    /// <summary>
    /// Turns the site's events with <paramref name="requestId"/> into tombstones (<see cref="AuditEvent.Tombstone"/>):
    /// their content is gone from the store, including its files' free space. An event that is a tombstone
    /// already keeps its first deletion. False when the site has no event with that request id.
    /// </summary>
    Task<bool> TombstoneAsync(string siteId, string requestId, AuditDeletion deletion, CancellationToken ct);

    /// <summary>Deletes the site's events from before <paramref name="cutoff"/>; returns how many.</summary>
    Task<long> DeleteOlderThanAsync(string siteId, DateTimeOffset cutoff, CancellationToken ct);

    /// <summary>The sites that have events: what retention walks.</summary>
    Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct);
}
