using System.Security.Cryptography;
using ConsentService.Caching;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;

namespace ConsentService.Consents;

/// <summary>A validated decision, ready to be appended.</summary>
/// <param name="IdempotencyKey">Already scoped to the caller (<see cref="SubjectSecrets.ScopedIdempotencyKey"/>).</param>
/// <param name="WriteSecretHash">The hash of the anonymous caller's write secret; null for a back end with a key.</param>
public sealed record ConsentDecision(
    string SubjectId,
    Policy Policy,
    IReadOnlyDictionary<string, bool> Purposes,
    ConsentMethod Method,
    ConsentSource? Source,
    string? IdempotencyKey,
    string RequestHash,
    byte[]? WriteSecretHash = null);

/// <summary>Appends decisions to the ledger and answers consent checks through the read cache.</summary>
public sealed class ConsentLedger(IConsentStore store, IReadCache cache, SubjectCacheKeys cacheKeys, TimeProvider time)
{
    /// <exception cref="SubjectSecretMismatchException">An anonymous write without the subject's secret: nothing was written.</exception>
    public async Task<AppendResult> RecordAsync(string siteId, ConsentDecision decision, CancellationToken ct)
    {
        var recordedAt = time.Now();
        // The key a new subject gets is made here, with everything else the writer does not need to make.
        var newSubjectKey = RandomNumberGenerator.GetBytes(32);
        var draft = new ConsentChain.Draft(new ConsentRecord(
            Guid.CreateVersion7(recordedAt).ToString(), siteId, decision.SubjectId, SubjectCommitment: "", Sequence: 0, Position: 0,
            decision.Policy.Version, decision.Policy.ContentHash, decision.Purposes, decision.Method, decision.Source, SourceCommitment: null,
            recordedAt, decision.IdempotencyKey, decision.RequestHash, PrevHash: null, Hash: ""), newSubjectKey);
        var result = await store.AppendConsentAsync(
            siteId, decision.SubjectId, decision.IdempotencyKey, decision.WriteSecretHash, newSubjectKey, draft.Seal, ct);
        if (result.Created)
        {
            // Before answering: the very next check must see this decision (a withdrawal above all).
            await cache.SetAsync(await CacheSlotAsync(siteId, decision.SubjectId, ct), result.Record, CancellationToken.None);
        }
        return result;
    }

    /// <summary>
    /// A subject's current record (or "none"); a later ledger position wins. Positions, unlike
    /// sequences, keep growing across an erasure, so a record made after one replaces its "none".
    /// The key is derived from the id (<see cref="SubjectCacheKeys"/>), never contains it.
    /// </summary>
    private async Task<CacheSlot<ConsentRecord>> CacheSlotAsync(string siteId, string subjectId, CancellationToken ct) =>
        new(await cacheKeys.KeyAsync(siteId, subjectId, ct), record => record?.Position ?? 0);

    public async Task<ConsentRecord?> CurrentAsync(string siteId, string subjectId, CancellationToken ct) =>
        await cache.GetOrLoadAsync(await CacheSlotAsync(siteId, subjectId, ct), c => store.GetCurrentConsentAsync(siteId, subjectId, c), ct);

    /// <summary>The current record as the store has it now (<c>Cache-Control: no-cache</c>), see <see cref="IReadCache.ReloadAsync{T}"/>.</summary>
    public async Task<ConsentRecord?> CurrentReadThroughAsync(string siteId, string subjectId, CancellationToken ct) =>
        await cache.ReloadAsync(await CacheSlotAsync(siteId, subjectId, ct), c => store.GetCurrentConsentAsync(siteId, subjectId, c), ct);

    public Task<IReadOnlyList<ConsentRecord>> HistoryAsync(string siteId, string subjectId, CancellationToken ct) =>
        store.GetHistoryAsync(siteId, subjectId, ct);

    /// <summary>
    /// Crypto-shreds the subject (DESIGN §5). Returns its commitment, read before its key is destroyed (the
    /// pseudonym the audit log names it by), or null when it has no records.
    /// </summary>
    public async Task<string?> EraseAsync(string siteId, string subjectId, CancellationToken ct)
    {
        var commitment = (await store.GetCurrentConsentAsync(siteId, subjectId, ct))?.SubjectCommitment;
        if (commitment is null || await store.EraseSubjectAsync(siteId, subjectId, ct) is not { } lastPosition)
        {
            return null;
        }
        // "No consent" as of the erased record's position, before answering: a read that loaded the
        // record just before cannot put it back, and a record made later still replaces it.
        await cache.SetAsync(await CacheSlotAsync(siteId, subjectId, CancellationToken.None), null, CancellationToken.None, version: lastPosition);
        cacheKeys.Forget(siteId, subjectId);
        return commitment;
    }

    /// <summary>
    /// The subject's state against the site's latest policy. Consent must be asked again when there
    /// is none, when a material policy version came after it, when it is older than the site's
    /// maximum age (then nothing optional counts as granted), or when a refusal is older than the
    /// site's re-ask interval.
    /// </summary>
    public ConsentState Evaluate(Site site, IReadOnlyList<Policy> policies, string subjectId, ConsentRecord? current)
    {
        var latest = policies.Count > 0 ? policies[^1] : null;
        var latestMaterial = policies.Where(p => p.Material).Select(p => p.Version).DefaultIfEmpty(0).Max();
        var age = current is null ? TimeSpan.Zero : time.Now() - current.RecordedAt;
        var expired = current is not null && age > TimeSpan.FromDays(site.ConsentMaxAgeDays);
        var refused = current is not null && current.Purposes.Values.Contains(false);
        var needsReconsent = current is null
            || current.PolicyVersion < latestMaterial
            || expired
            || (refused && age > TimeSpan.FromDays(site.RefusalReaskDays));

        var purposes = new Dictionary<string, PurposeState>(StringComparer.Ordinal);
        foreach (var purpose in latest?.Content.Purposes ?? [])
        {
            var granted = current is not null
                && current.Purposes.TryGetValue(purpose.Id, out var value) && value
                && (purpose.Required || !expired);
            purposes[purpose.Id] = new PurposeState(granted, current?.RecordedAt);
        }
        return new ConsentState(subjectId, current?.PolicyVersion, latest?.Version ?? 0, needsReconsent,
            current?.Method, current?.RecordedAt, purposes);
    }
}
