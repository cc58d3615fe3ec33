using System.Buffers.Text;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace ConsentService.Client;

/// <summary>A public key of the service's JWK set: the P-256 point, and from when its signatures are not to be trusted (if ever).</summary>
public sealed record SigningPublicKey(string Kid, byte[] X, byte[] Y, DateTimeOffset? CompromisedAt);

/// <summary>
/// The service's JWK set (<c>/.well-known/consent-signing-key</c>), fetched once and kept: verifying a receipt costs no
/// request. A receipt naming an unknown kid (a rotation) fetches the set again, at most once per
/// <see cref="ConsentServiceOptions.KeyRefreshInterval"/>; the set is also fetched again after <see cref="ConsentServiceOptions.KeySetMaxAge"/>.
/// </summary>
public sealed class SigningKeyCache(HttpClient http, IOptions<ConsentServiceOptions> options, TimeProvider time) : IDisposable
{
    public void Dispose() => _fetching.Dispose();

    private sealed record KeySet(IReadOnlyDictionary<string, SigningPublicKey> Keys, DateTimeOffset FetchedAt);

    private readonly SemaphoreSlim _fetching = new(1, 1);
    private volatile KeySet? _set;

    /// <summary>The key <paramref name="kid"/> names, or null when the service does not publish it.</summary>
    /// <exception cref="HttpRequestException">The JWK set could not be fetched and none is cached.</exception>
    public async ValueTask<SigningPublicKey?> FindAsync(string kid, CancellationToken ct)
    {
        var settings = options.Value;
        if (_set is { } set && time.GetUtcNow() - set.FetchedAt < settings.KeySetMaxAge)
        {
            if (set.Keys.TryGetValue(kid, out var known)) return known;
            if (time.GetUtcNow() - set.FetchedAt < settings.KeyRefreshInterval) return null; // asked too recently
        }
        await _fetching.WaitAsync(ct);
        try
        {
            set = _set;
            var fresh = set is not null && time.GetUtcNow() - set.FetchedAt < settings.KeyRefreshInterval;
            if (!fresh)
            {
                try
                {
                    set = _set = await FetchAsync(ct);
                }
                catch (Exception e) when (set is not null && e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
                {
                    // Keep verifying with what we have; the service being down must not fail receipts it signed.
                }
            }
            return set!.Keys.GetValueOrDefault(kid);
        }
        finally
        {
            _fetching.Release();
        }
    }

    private async Task<KeySet> FetchAsync(CancellationToken ct)
    {
        var document = await http.GetFromJsonAsync<JsonObject>(".well-known/consent-signing-key", ct)
            ?? throw new HttpRequestException("The JWK set is empty.");
        var keys = new Dictionary<string, SigningPublicKey>(StringComparer.Ordinal);
        foreach (var jwk in document["keys"]?.AsArray() ?? [])
        {
            if (jwk?["kty"]?.GetValue<string>() != "EC" || jwk["crv"]?.GetValue<string>() != "P-256" || jwk["kid"]?.GetValue<string>() is not { } kid)
            {
                continue;
            }
            var compromised = jwk["compromisedAt"]?.GetValue<string>() is { } at
                ? DateTimeOffset.Parse(at, CultureInfo.InvariantCulture, DateTimeStyles.None)
                : (DateTimeOffset?)null;
            keys[kid] = new SigningPublicKey(kid, Base64Url.DecodeFromChars(jwk["x"]!.GetValue<string>()),
                Base64Url.DecodeFromChars(jwk["y"]!.GetValue<string>()), compromised);
        }
        return new KeySet(keys, time.GetUtcNow());
    }

    /// <summary>Checks an ES256 signature over <paramref name="signingInput"/> with <paramref name="key"/>.</summary>
    internal static bool Verifies(SigningPublicKey key, byte[] signingInput, byte[] signature)
    {
        using var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = key.X, Y = key.Y },
        });
        return ecdsa.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }
}
