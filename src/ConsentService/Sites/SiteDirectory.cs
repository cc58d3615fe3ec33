using ConsentService.Caching;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Sites;

/// <summary>Sites and their keys, read through the cache.</summary>
public sealed class SiteDirectory(IConsentStore store, IReadCache cache, TimeProvider time)
{
    public const string KeyPrefix = "csk_";

    /// <summary>
    /// A site's cache entry; a later update wins. Site ids come from anonymous URLs, so "no such site"
    /// is not cached: made-up ids cannot fill the cache (creating a site stores it before answering).
    /// </summary>
    public static CacheSlot<Site> CacheSlot(string siteId) => new($"site:{siteId}", s => s?.UpdatedAt.ToUnixTimeMilliseconds() ?? 0, KeepAbsent: false);

    /// <summary>
    /// A live key's cache entry, by the hash of its secret. A revocation stores the revoked key as a
    /// newer version before it answers, so it holds at once, like a withdrawal; unknown keys are not cached.
    /// </summary>
    public static CacheSlot<ApiKey> KeySlot(string keyHash) => new($"apikey:{keyHash}", k => k?.RevokedAt is null ? 0 : 1, KeepAbsent: false);

    public Task<Site?> GetAsync(string siteId, CancellationToken ct) =>
        cache.GetOrLoadAsync(CacheSlot(siteId), c => store.GetSiteAsync(siteId, c), ct);

    public async Task<Site> CreateAsync(CreateSiteRequest request, IReadOnlyList<string> origins, string? siteId, CancellationToken ct)
    {
        var now = time.Now();
        var site = new Site(
            siteId ?? "site_" + Secrets.Token(12),
            request.Name,
            origins,
            request.DefaultLocale ?? "en",
            request.JurisdictionMode ?? JurisdictionMode.Gdpr,
            request.ConsentMaxAgeDays ?? SiteRules.DefaultConsentMaxAgeDays,
            request.RefusalReaskDays ?? SiteRules.DefaultRefusalReaskDays,
            now,
            now,
            request.RetentionDays ?? SiteRules.DefaultRetentionDays,
            request.AuditRetentionDays ?? SiteRules.DefaultAuditRetentionDays);
        await store.CreateSiteAsync(site, ct);
        await cache.SetAsync(CacheSlot(site.Id), site, ct);
        return site;
    }

    public async Task<Site> UpdateAsync(Site site, UpdateSiteRequest patch, IReadOnlyList<string>? origins, CancellationToken ct)
    {
        var updated = site with
        {
            Name = patch.Name ?? site.Name,
            AllowedOrigins = origins ?? site.AllowedOrigins,
            DefaultLocale = patch.DefaultLocale ?? site.DefaultLocale,
            JurisdictionMode = patch.JurisdictionMode ?? site.JurisdictionMode,
            ConsentMaxAgeDays = patch.ConsentMaxAgeDays ?? site.ConsentMaxAgeDays,
            RefusalReaskDays = patch.RefusalReaskDays ?? site.RefusalReaskDays,
            RetentionDays = patch.RetentionDays ?? site.RetentionDays,
            AuditRetentionDays = patch.AuditRetentionDays ?? site.AuditRetentionDays,
            UpdatedAt = time.Now(),
        };
        await store.UpdateSiteAsync(updated, ct);
        await cache.SetAsync(CacheSlot(site.Id), updated, ct);
        return updated;
    }

    /// <summary>Issues a key; the secret exists only in the returned value, the store keeps its hash.</summary>
    public async Task<IssuedApiKey> IssueKeyAsync(string siteId, SiteRole role, string? label, CancellationToken ct)
    {
        var secret = KeyPrefix + Secrets.Token(32);
        var key = new ApiKey("key_" + Secrets.Token(12), siteId, role, label, KeyPrefix + "…" + secret[^4..],
            Secrets.Sha256Hex(secret), time.Now(), null);
        await store.AddApiKeyAsync(key, ct);
        return new IssuedApiKey(key.Id, role, label, secret, key.CreatedAt);
    }

    public Task<IReadOnlyList<ApiKey>> ListKeysAsync(string siteId, CancellationToken ct) => store.ListApiKeysAsync(siteId, ct);

    public async Task<bool> RevokeKeyAsync(string siteId, string keyId, CancellationToken ct)
    {
        if (!await store.RevokeApiKeyAsync(siteId, keyId, time.Now(), ct))
        {
            return false;
        }
        if ((await store.ListApiKeysAsync(siteId, ct)).FirstOrDefault(k => k.Id == keyId) is { } revoked)
        {
            await cache.SetAsync(KeySlot(revoked.KeyHash), revoked, CancellationToken.None);
        }
        return true;
    }

    /// <summary>The live (unrevoked) key with this secret, if any; read through the cache (see <see cref="KeySlot"/>).</summary>
    public async Task<ApiKey?> FindKeyAsync(string secret, CancellationToken ct)
    {
        if (!secret.StartsWith(KeyPrefix, StringComparison.Ordinal)) return null;
        return await FindKeyByHashAsync(Secrets.Sha256Hex(secret), ct);
    }

    /// <summary>The live key with this hash (a console session keeps the hash, never the secret), through the same cache.</summary>
    public async Task<ApiKey?> FindKeyByHashAsync(string hash, CancellationToken ct)
    {
        var key = await cache.GetOrLoadAsync(KeySlot(hash), c => store.FindApiKeyByHashAsync(hash, c), ct);
        return key is { RevokedAt: null } ? key : null;
    }
}
