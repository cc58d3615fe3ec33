using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using ConsentService.Storage;

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

    private readonly SemaphoreSlim _loading = new(1, 1);
    private byte[]? _secret;

    public async ValueTask<string> KeyAsync(string siteId, string subjectId, CancellationToken ct)
    {
        var secret = Volatile.Read(ref _secret) ?? await LoadAsync(ct);
        var mac = HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{siteId}\n{subjectId}"));
        return $"consent:{siteId}:{Base64Url.EncodeToString(mac)}";
    }

    /// <summary>Once per process; a failure (store unreachable) is not remembered, the next request tries again.</summary>
    private async Task<byte[]> LoadAsync(CancellationToken ct)
    {
        await _loading.WaitAsync(ct);
        try
        {
            return _secret ??= await store.GetOrAddSecretAsync(SecretName, RandomNumberGenerator.GetBytes(32), ct);
        }
        finally
        {
            _loading.Release();
        }
    }

    public void Dispose() => _loading.Dispose();
}
