using ConsentService.Consents;
using ConsentService.Policies;
using ConsentService.Sites;

namespace ConsentService.Storage;

/// <summary>The head of one subject's hash chain, read and extended under the store's write guard.</summary>
/// <param name="SubjectKey">The subject's random key: commitments are HMACs under it; erasure destroys it.</param>
/// <param name="Sequence">The last sequence number written, 0 for a new subject.</param>
/// <param name="Hash">The hash of the last record, null for a new subject.</param>
public sealed record ChainHead(byte[] SubjectKey, long Sequence, string? Hash);

public sealed record AppendResult(ConsentRecord Record, bool Created);

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
}
