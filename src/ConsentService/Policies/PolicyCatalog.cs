using System.Text.Json;
using ConsentService.Caching;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Policies;

/// <summary>Published policy versions per site, read through the cache (they never change once published).</summary>
public sealed class PolicyCatalog(IConsentStore store, IReadCache cache, TimeProvider time)
{
    /// <summary>
    /// A site's versions, oldest first, as one cache entry; a list with a later version wins. No
    /// versions is not cached (<c>…/policies/{version}</c> is public, for any site id), so made-up
    /// site ids leave nothing behind; every real site has version 1 from its creation on.
    /// </summary>
    public static CacheSlot<IReadOnlyList<Policy>> CacheSlot(string siteId) =>
        new($"policies:{siteId}", list => list is [.., var latest] ? latest.Version : 0, KeepAbsent: false);

    public async Task<IReadOnlyList<Policy>> ListAsync(string siteId, CancellationToken ct) =>
        await cache.GetOrLoadAsync(CacheSlot(siteId), async c => await store.ListPoliciesAsync(siteId, c) is { Count: > 0 } list ? list : null, ct) ?? [];

    /// <summary>The versions as the store has them now (<c>Cache-Control: no-cache</c>), see <see cref="IReadCache.ReloadAsync{T}"/>.</summary>
    public async Task<IReadOnlyList<Policy>> ListReadThroughAsync(string siteId, CancellationToken ct) =>
        await cache.ReloadAsync(CacheSlot(siteId), async c => await store.ListPoliciesAsync(siteId, c) is { Count: > 0 } list ? list : null, ct) ?? [];

    public async Task<Policy?> GetAsync(string siteId, int version, CancellationToken ct) =>
        (await ListAsync(siteId, ct)).FirstOrDefault(p => p.Version == version);

    /// <summary>
    /// Publishes <paramref name="content"/> as the next version. The change is material (earlier
    /// consents go stale) when purposes or vendors differ from the latest version, unless the
    /// publisher says otherwise; the first version is always material.
    /// </summary>
    public async Task<Policy> PublishAsync(string siteId, PolicyContent content, bool? material, CancellationToken ct)
    {
        var contentHash = ContentHash(content);
        var policy = await store.PublishPolicyAsync(siteId, latest => new Policy(
            siteId,
            (latest?.Version ?? 0) + 1,
            time.Now(),
            contentHash,
            latest is null || (material ?? ScopeHash(latest.Content) != ScopeHash(content)),
            content), ct);
        await cache.SetAsync(CacheSlot(siteId), await store.ListPoliciesAsync(siteId, ct), ct);
        return policy;
    }

    /// <summary>SHA-256 over the canonical JSON of everything a visitor is shown.</summary>
    public static string ContentHash(PolicyContent content) =>
        CanonicalJson.Sha256Hex(JsonSerializer.SerializeToNode(content, JsonDefaults.Options));

    /// <summary>What consent is given to: purposes, their legal basis and their vendors (not the wording).</summary>
    private static string ScopeHash(PolicyContent content) =>
        CanonicalJson.Sha256Hex(JsonSerializer.SerializeToNode(content.Purposes.OrderBy(p => p.Id, StringComparer.Ordinal), JsonDefaults.Options));
}
