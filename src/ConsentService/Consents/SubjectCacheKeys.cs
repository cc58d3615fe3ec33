using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using ConsentService.Caching;
using ConsentService.Storage;
using Microsoft.Extensions.Caching.Memory;

namespace ConsentService.Consents;

/// <summary>
/// Names a subject's cache entry without its id: <c>consent:{siteId}:{HMAC-SHA256(secret, siteId \n subjectId)}</c>.
/// A key listing of Redis (or a dump of it) then shows no subject id, and an erased subject's entry is
/// named by nothing that leads back to it. The secret is random, made once per deployment and kept in
/// the consent store (<see cref="IConsentStore.GetOrAddSecretAsync"/>), so every instance that shares
/// the store, and therefore Redis, derives the same names; a plain hash would not do, since ids of the
/// <c>user:1042</c> kind are guessable and a hash of a guessable id can be reversed by trying them.
/// </summary>
public sealed class SubjectCacheKeys(IConsentStore store) : IDisposable
{
    public const string SecretName = "subject-cache-keys";

    private readonly DeploymentSecret _secret = new(store, SecretName);

    /// <summary>
    /// Names made recently, by (site, subject): a check is answered from memory, and the HMAC was half
    /// of what it cost (profile of the cached check). In this process only, never written anywhere;
    /// an erasure forgets the subject's (<see cref="Forget"/>).
    /// </summary>
    private readonly MemoryCache _names = new(BoundedMemory.Options());
    private static readonly MemoryCacheEntryOptions NameEntry = new() { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(10) };

    public async ValueTask<string> KeyAsync(string siteId, string subjectId, CancellationToken ct)
    {
        var id = (siteId, subjectId);
        if (_names.TryGetValue(id, out string? known) && known is not null)
        {
            return known;
        }
        var secret = await _secret.GetAsync(ct);
        var mac = HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{siteId}\n{subjectId}"));
        var name = $"consent:{siteId}:{Base64Url.EncodeToString(mac)}";
        _names.Set(id, name, NameEntry);
        return name;
    }

    /// <summary>An erased subject's id is not kept in memory beside its name either.</summary>
    public void Forget(string siteId, string subjectId) => _names.Remove((siteId, subjectId));

    public void Dispose()
    {
        _secret.Dispose();
        _names.Dispose();
    }
}
