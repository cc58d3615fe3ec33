using System.Security.Cryptography;
using System.Text;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Identity;

/// <summary>
/// Issues and resolves identity secrets. HMAC verification needs the secret itself, so a hash (as for API keys)
/// cannot be stored; instead each secret is derived: <c>cis_</c> + base64url(HMAC-SHA256(identity key,
/// siteId \n secretId \n seed)). The store keeps the random seed per secret and, apart, the deployment's identity
/// key (<see cref="IConsentStore.GetOrAddSecretAsync"/>); neither alone gives a secret, and revoking a secret
/// makes it unusable at once whatever copies exist.
/// </summary>
public sealed class IdentitySecretVault(IConsentStore store, TimeProvider time) : IDisposable
{
    public const string KeyName = "identity-secrets";
    public const string Prefix = "cis_";
    /// <summary>Enough for a roll-over (the new one deployed while the old one still signs), and no more to forget about.</summary>
    public const int MaxActive = 3;

    private readonly DeploymentSecret _key = new(store, KeyName);

    public async Task<IssuedIdentitySecret> IssueAsync(string siteId, CancellationToken ct)
    {
        var secret = new IdentitySecret("cid_" + Secrets.Token(9), siteId, RandomNumberGenerator.GetBytes(32), "", time.Now(), null);
        var value = await DeriveAsync(secret, ct);
        secret = secret with { Hint = Prefix + "…" + value[^4..] };
        await store.AddIdentitySecretAsync(secret, ct);
        return new IssuedIdentitySecret(secret.Id, value, secret.Hint, secret.CreatedAt);
    }

    /// <summary>The site's active secrets with their values: the keys a subject token may be signed with.</summary>
    public async Task<IReadOnlyList<(string Id, string Value)>> ActiveAsync(string siteId, CancellationToken ct)
    {
        var active = new List<(string, string)>();
        foreach (var secret in await store.ListIdentitySecretsAsync(siteId, ct))
        {
            if (secret.RevokedAt is null) active.Add((secret.Id, await DeriveAsync(secret, ct)));
        }
        return active;
    }

    private async Task<string> DeriveAsync(IdentitySecret secret, CancellationToken ct)
    {
        var key = await _key.GetAsync(ct);
        byte[] message = [.. Encoding.UTF8.GetBytes($"{secret.SiteId}\n{secret.Id}\n"), .. secret.Seed];
        var mac = HMACSHA256.HashData(key, message);
        return Prefix + Secrets.Base64Url(mac);
    }

    public void Dispose() => _key.Dispose();
}
