using ConsentService.Consents;
using ConsentService.Identity;
using ConsentService.Policies;
using ConsentService.Sites;

namespace ConsentService.Storage;

/// <summary>The head of one subject's hash chain, read and extended under the store's write guard.</summary>
/// <param name="SubjectKey">The subject's random key: commitments are HMACs under it; erasure destroys it.</param>
/// <param name="Sequence">The last sequence number written, 0 for a new subject.</param>
/// <param name="Hash">The hash of the last record, null for a new subject.</param>
/// <param name="Position">The ledger position the new record takes: one more than the site's last.</param>
public sealed record ChainHead(byte[] SubjectKey, long Sequence, string? Hash, long Position);

/// <summary>What the store keeps for the subject a record names: its key and chain head, as the next append would read them.</summary>
/// <param name="RecordId">The record the head points at: the chain's last one, unless someone edited the store.</param>
public sealed record SubjectHead(byte[] SubjectKey, long Sequence, string? Hash, string? RecordId);

/// <summary>
/// One record of a chain, with the <see cref="SubjectHead"/> of the subject its <c>subjectId</c> names
/// (null when the record is erased or that subject has no key), so verification can recompute the
/// commitments and check the head while it streams.
/// </summary>
public sealed record ChainLink(ConsentRecord Record, SubjectHead? Subject);

/// <summary>
/// A site's ledger head, written in the same transaction as every append: the last position handed
/// out and the hash of the record that took it.
/// </summary>
public sealed record LedgerHead(long Size, string? LastHash);

/// <param name="Batch">The records committed together with this one (a created record on a store that groups commits); null: a batch of its own.</param>
public sealed record AppendResult(ConsentRecord Record, bool Created, CommitBatch? Batch = null);

/// <summary>
/// An anonymous append for a subject whose stored write-secret hash differs from the one presented:
/// the append wrote nothing (DESIGN §3, "a subject id is a name, not a credential").
/// </summary>
public sealed class SubjectSecretMismatchException : Exception
{
    public SubjectSecretMismatchException() : base("The subject's write secret does not match.") { }

    public SubjectSecretMismatchException(string message) : base(message) { }

    public SubjectSecretMismatchException(string message, Exception inner) : base(message, inner) { }
}

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
/// The webhook outbox is part of it (<see cref="IWebhookStore"/>): its rows join the ledger's transactions.
/// </summary>
public interface IConsentStore : IWebhookStore
{
    /// <summary>Creates tables/collections and indexes; idempotent.</summary>
    Task InitializeAsync(CancellationToken ct);

    Task<bool> PingAsync(CancellationToken ct);

    /// <summary>
    /// Why writes fail now (disk full, I/O error), or null when they work: readiness reports the store
    /// unhealthy while it is not null. An adapter whose latest write failed for a storage reason tries a
    /// harmless write before answering, so this turns null again as soon as writes would succeed. MongoDB
    /// reports its own health (the ping, write concern errors per request): null there.
    /// </summary>
    Task<string?> WriteFailureAsync(CancellationToken ct) => Task.FromResult<string?>(null);

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
    /// Appends the record <paramref name="build"/> makes from the subject's chain head (its key, and the
    /// last record of the chain that key commits to). When
    /// <paramref name="idempotencyKey"/> was already used on the site, returns that record and writes nothing.
    /// <paramref name="writeSecretHash"/> is the anonymous caller's proof (null: a back end with a key, not
    /// asked): a subject that has a stored hash must be presented the same one, else
    /// <see cref="SubjectSecretMismatchException"/> and nothing is written (checked before the idempotency
    /// key); a new subject, or one stored without a hash (recorded before write secrets, or by a back end),
    /// takes the presented hash with this append. Erasure removes the hash with the subject's key.
    /// A subject without a key takes <paramref name="newSubjectKey"/> (32 random bytes the caller made, so
    /// that it can make the commitments under it before the store's writer runs).
    /// </summary>
    Task<AppendResult> AppendConsentAsync(
        string siteId, string subjectId, string? idempotencyKey, byte[]? writeSecretHash, byte[] newSubjectKey,
        Func<ChainHead, ConsentRecord> build, CancellationToken ct);

    /// <summary>
    /// The subject's latest record, or null: the last record of the chain its key commits to (highest
    /// sequence), read from the records themselves, never from the stored head alone, so a head pointed
    /// back at an older record cannot bring back a withdrawn consent.
    /// </summary>
    Task<ConsentRecord?> GetCurrentConsentAsync(string siteId, string subjectId, CancellationToken ct);

    /// <summary>Every record of the subject, oldest first (empty when unknown).</summary>
    Task<IReadOnlyList<ConsentRecord>> GetHistoryAsync(string siteId, string subjectId, CancellationToken ct);

    Task<ConsentRecord?> GetConsentAsync(string siteId, string recordId, CancellationToken ct);

    /// <summary>
    /// The site's records that match <paramref name="filter"/> with a position after
    /// <paramref name="afterPosition"/>, in position order, streamed: memory stays flat however many there are.
    /// </summary>
    IAsyncEnumerable<ConsentRecord> QueryConsentsAsync(string siteId, ConsentFilter filter, long afterPosition, CancellationToken ct);

    /// <summary>
    /// Every record of the site by subject commitment, then sequence: the chains, one after the other,
    /// each with the key and head of the subject it names. Streamed.
    /// </summary>
    IAsyncEnumerable<ChainLink> ReadChainsAsync(string siteId, CancellationToken ct);

    /// <summary>The site's ledger head (all zero/null for a site without records).</summary>
    Task<LedgerHead> GetLedgerHeadAsync(string siteId, CancellationToken ct);

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

    /// <summary>Every public key the deployment has signed with, oldest first.</summary>
    Task<IReadOnlyList<SigningKey>> ListSigningKeysAsync(CancellationToken ct);

    /// <summary>
    /// Atomically makes <paramref name="key"/> the active signing key when no key is active, or when the active
    /// key's kid is in <paramref name="retiring"/> (that key is then retired at <c>key.ActivatedAt</c>). Returns the
    /// active key afterwards: another key than <paramref name="key"/> when neither applies. A key once retired is
    /// never activated again, and at most one key is active.
    /// </summary>
    Task<SigningKey?> ActivateSigningKeyAsync(SigningKey key, IReadOnlySet<string> retiring, CancellationToken ct);

    /// <summary>Records from when the key's signatures are not to be trusted; false when the deployment has no such key.</summary>
    Task<bool> MarkSigningKeyCompromisedAsync(string kid, DateTimeOffset from, CancellationToken ct);

    /// <summary>
    /// The deployment-wide secret named <paramref name="name"/>: the one stored first, or
    /// <paramref name="candidate"/>, stored now, when there is none. Every instance sharing the store gets
    /// the same bytes, however many race to create it.
    /// </summary>
    Task<byte[]> GetOrAddSecretAsync(string name, byte[] candidate, CancellationToken ct);

    // ---- identified users (issue 15 §1) -------------------------------------------------------

    Task AddIdentitySecretAsync(IdentitySecret secret, CancellationToken ct);

    /// <summary>The site's identity secrets, oldest first, revoked ones included.</summary>
    Task<IReadOnlyList<IdentitySecret>> ListIdentitySecretsAsync(string siteId, CancellationToken ct);

    /// <summary>False when the secret does not exist on that site; revoking twice keeps the first time.</summary>
    Task<bool> RevokeIdentitySecretAsync(string siteId, string secretId, DateTimeOffset revokedAt, CancellationToken ct);

    /// <summary>
    /// Links the anonymous subject <paramref name="anonymousId"/> to the user id <paramref name="userId"/> (kept, like
    /// subject ids, until erasure). Only when the anonymous subject exists and its stored write-secret hash equals
    /// <paramref name="writeSecretHash"/>: false otherwise, and nothing is written. Linking again keeps the first time.
    /// </summary>
    Task<bool> LinkSubjectAsync(string siteId, string userId, string anonymousId, byte[] writeSecretHash, DateTimeOffset linkedAt, CancellationToken ct);

    /// <summary>The anonymous subjects linked to <paramref name="userId"/>, oldest link first. Erasing either side removes the link.</summary>
    Task<IReadOnlyList<SubjectLink>> ListLinkedSubjectsAsync(string siteId, string userId, CancellationToken ct);

    /// <summary>Stores <paramref name="scan"/> under its id, replacing the one stored before (tracker scans, issue 16).</summary>
    Task SaveScanAsync(Scans.Scan scan, CancellationToken ct);

    /// <summary>The site's scan with that id, or null (a scan of another site is not found).</summary>
    Task<Scans.Scan?> GetScanAsync(string siteId, string scanId, CancellationToken ct);

    /// <summary>The site's newest <paramref name="limit"/> scans, newest first.</summary>
    Task<IReadOnlyList<Scans.Scan>> ListScansAsync(string siteId, int limit, CancellationToken ct);

    /// <summary>Every scan still queued or running, oldest first, whatever its site (start-up marks them interrupted).</summary>
    Task<IReadOnlyList<Scans.Scan>> ListUnfinishedScansAsync(CancellationToken ct);
}
