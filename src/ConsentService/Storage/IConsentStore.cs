using ConsentService.Consents;
using ConsentService.Policies;
using ConsentService.Sites;

namespace ConsentService.Storage;

/// <summary>The head of one subject's hash chain, read and extended under the store's write guard.</summary>
/// <param name="SubjectKey">The subject's random key: commitments are HMACs under it; erasure destroys it.</param>
/// <param name="Sequence">The last sequence number written, 0 for a new subject.</param>
/// <param name="Hash">The hash of the last record, null for a new subject.</param>
/// <param name="Position">The ledger position the new record takes: one more than the site's last.</param>
public sealed record ChainHead(byte[] SubjectKey, long Sequence, string? Hash, long Position);

public sealed record AppendResult(ConsentRecord Record, bool Created);

/// <summary>What a ledger query keeps; null fields match anything. <see cref="Granted"/> needs <see cref="Purpose"/>.</summary>
public sealed record ConsentFilter(
    string? SubjectId = null,
    string? Purpose = null,
    bool? Granted = null,
    ConsentMethod? Method = null,
    int? PolicyVersion = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null);

/// <summary>A signed tree head (RFC 9162 §4.10): the Merkle root over a site's first <see cref="TreeSize"/> record hashes.</summary>
public sealed record Checkpoint(string SiteId, long TreeSize, string RootHash, DateTimeOffset SignedAt, string Signature);

/// <summary>
/// Persistence for sites, keys, policies and the consent ledger. Every adapter passes
/// <c>ConsentStoreContract</c>. Appends are atomic per subject: two writers never share a sequence number.
/// </summary>
public interface IConsentStore
{
    /// <summary>Creates tables/collections and indexes; idempotent.</summary>
    Task InitializeAsync(CancellationToken ct);

    Task<bool> PingAsync(CancellationToken ct);

    Task CreateSiteAsync(Site site, CancellationToken ct);
    Task<Site?> GetSiteAsync(string siteId, CancellationToken ct);
    Task UpdateSiteAsync(Site site, CancellationToken ct);

    Task AddApiKeyAsync(ApiKey key, CancellationToken ct);
    Task<IReadOnlyList<ApiKey>> ListApiKeysAsync(string siteId, CancellationToken ct);
    Task<ApiKey?> FindApiKeyByHashAsync(string keyHash, CancellationToken ct);
    /// <summary>False when the key does not exist on that site; revoking twice keeps the first time.</summary>
    Task<bool> RevokeApiKeyAsync(string siteId, string keyId, DateTimeOffset revokedAt, CancellationToken ct);

    /// <summary>Publishes the policy <paramref name="build"/> makes from the latest one (null for the first), atomically.</summary>
    Task<Policy> PublishPolicyAsync(string siteId, Func<Policy?, Policy> build, CancellationToken ct);
    Task<IReadOnlyList<Policy>> ListPoliciesAsync(string siteId, CancellationToken ct);

    /// <summary>
    /// Appends the record <paramref name="build"/> makes from the subject's chain head. When
    /// <paramref name="idempotencyKey"/> was already used on the site, returns that record and writes nothing.
    /// </summary>
    Task<AppendResult> AppendConsentAsync(
        string siteId, string subjectId, string? idempotencyKey, Func<ChainHead, ConsentRecord> build, CancellationToken ct);

    /// <summary>The subject's latest record, or null.</summary>
    Task<ConsentRecord?> GetCurrentConsentAsync(string siteId, string subjectId, CancellationToken ct);

    /// <summary>Every record of the subject, oldest first (empty when unknown).</summary>
    Task<IReadOnlyList<ConsentRecord>> GetHistoryAsync(string siteId, string subjectId, CancellationToken ct);

    Task<ConsentRecord?> GetConsentAsync(string siteId, string recordId, CancellationToken ct);

    /// <summary>
    /// The site's records that match <paramref name="filter"/> with a position after
    /// <paramref name="afterPosition"/>, in position order, streamed: memory stays flat however many there are.
    /// </summary>
    IAsyncEnumerable<ConsentRecord> QueryConsentsAsync(string siteId, ConsentFilter filter, long afterPosition, CancellationToken ct);

    /// <summary>Every record of the site by subject commitment, then sequence: the chains, one after the other.</summary>
    IAsyncEnumerable<ConsentRecord> ReadChainsAsync(string siteId, CancellationToken ct);

    Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct);

    /// <summary>
    /// Crypto-shredding (DESIGN §5): destroys the subject's key and removes its id, source and request
    /// fingerprints from its records, which keep their commitments and hashes. Returns the position of
    /// the subject's last record, or null when the subject is unknown.
    /// </summary>
    Task<long?> EraseSubjectAsync(string siteId, string subjectId, CancellationToken ct);

    /// <summary>Subjects whose last record was made before <paramref name="cutoff"/> (for retention).</summary>
    IAsyncEnumerable<string> SubjectsIdleSinceAsync(string siteId, DateTimeOffset cutoff, CancellationToken ct);

    /// <summary>When the site's newest record was made, or null when it has none (retention's check on the clock).</summary>
    Task<DateTimeOffset?> NewestRecordedAtAsync(string siteId, CancellationToken ct);

    /// <summary>Stores a checkpoint; false when the site already has one of that tree size.</summary>
    Task<bool> AddCheckpointAsync(Checkpoint checkpoint, CancellationToken ct);

    /// <summary>The site's checkpoints, smallest tree first.</summary>
    Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(string siteId, CancellationToken ct);
}
