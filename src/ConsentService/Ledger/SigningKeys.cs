using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ConsentService.Infrastructure;
using ConsentService.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ConsentService.Ledger;

/// <summary>Reads a PEM signing key, and says in plain words (naming the setting or file, never the key) why one is unusable.</summary>
public static class SigningKeyPem
{
    public const string Setting = "Signing:PrivateKey";
    public const string MakeOne = "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt";
    private const string P256Oid = "1.2.840.10045.3.1.7";

    /// <summary>The ECDSA P-256 private key in <paramref name="pem"/>; <paramref name="source"/> names the setting or file it came from.</summary>
    /// <exception cref="SigningKeyException">It is not one.</exception>
    public static ECDsa Import(string pem, string source)
    {
        var fix = source == Setting
            ? $"Make a P-256 key with `{MakeOne}` and set {Setting} to its PEM."
            : $"Replace the file with a P-256 key (`{MakeOne}`), or move it away to have a new one generated (receipts signed with it then verify only while its public key stays published), or set {Setting}.";
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            var parameters = key.ExportParameters(includePrivateParameters: true);
            if (parameters.Curve.Oid?.Value != P256Oid)
            {
                var name = parameters.Curve.Oid?.FriendlyName ?? $"a {key.KeySize}-bit curve";
                throw new SigningKeyException($"{source} is an ECDSA key on {name}; ES256 needs the curve P-256 (prime256v1). {fix}");
            }
            CryptographicOperations.ZeroMemory(parameters.D);
            return key;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new SigningKeyException($"{source} {What(pem)}. {fix}");
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static string What(string pem)
    {
        if (pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal)) return "holds an encrypted private key; give it unencrypted (pkcs8 -nocrypt)";
        if (pem.Contains("PUBLIC KEY", StringComparison.Ordinal) && !pem.Contains("PRIVATE KEY", StringComparison.Ordinal)) return "holds a public key only; it needs the private key";
        using var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return "is an RSA key; ES256 needs an ECDSA key on the curve P-256";
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return "is not a readable PEM ECDSA private key ('BEGIN PRIVATE KEY' or 'BEGIN EC PRIVATE KEY'); it is empty, cut short or corrupt";
        }
    }
}

/// <summary>
/// The deployment's public keys as the store holds them: what <c>/.well-known/consent-signing-key</c> publishes and what
/// every signature is checked with. Re-read from the store at most every <see cref="SigningOptions.ActiveKeyRecheck"/>.
/// </summary>
public sealed class SigningKeyRing(IConsentStore store, TimeProvider time, IOptions<SigningOptions> options)
{
    private sealed record Snapshot(IReadOnlyList<SigningKey> Keys, DateTimeOffset ReadAt);

    private volatile Snapshot? _snapshot;

    public bool IsStale => _snapshot is not { } s || time.GetUtcNow() - s.ReadAt >= options.Value.ActiveKeyRecheck;

    /// <summary>Every key, oldest first: from the last read when it is recent enough, unless <paramref name="fresh"/>.</summary>
    public async Task<IReadOnlyList<SigningKey>> GetAsync(CancellationToken ct, bool fresh = false)
    {
        if (!fresh && _snapshot is { } s && time.GetUtcNow() - s.ReadAt < options.Value.ActiveKeyRecheck)
        {
            return s.Keys;
        }
        var keys = await store.ListSigningKeysAsync(ct);
        _snapshot = new Snapshot(keys, time.GetUtcNow());
        return keys;
    }

    /// <summary>
    /// A JWK (RFC 7517) with the key's life as extra members: <c>status</c> (active, retired or compromised),
    /// <c>activatedAt</c>, <c>retiredAt</c> and <c>compromisedAt</c> (absent when not so).
    /// </summary>
    public static JsonObject ToJwk(SigningKey key)
    {
        var jwk = new JsonObject
        {
            ["kty"] = "EC", ["crv"] = "P-256", ["x"] = key.X, ["y"] = key.Y, ["kid"] = key.Kid, ["use"] = "sig", ["alg"] = "ES256",
            ["status"] = key.CompromisedAt is not null ? "compromised" : key.IsActive ? "active" : "retired",
            ["activatedAt"] = key.ActivatedAt,
        };
        if (key.RetiredAt is { } retired) jwk["retiredAt"] = retired;
        if (key.CompromisedAt is { } compromised) jwk["compromisedAt"] = compromised;
        return jwk;
    }

    public sealed record JwsCheck(JsonObject? Payload, string? Kid, SigningKey? Key)
    {
        public bool Valid => Payload is not null;
    }

    /// <summary>Checks a compact ES256 JWS with the key its header's <c>kid</c> names among <paramref name="keys"/> (none: not valid).</summary>
    public static JwsCheck Verify(string jws, IReadOnlyList<SigningKey> keys)
    {
        var parts = jws.Split('.');
        if (parts.Length != 3) return new(null, null, null);
        try
        {
            var header = JsonNode.Parse(Secrets.FromBase64Url(parts[0]))?.AsObject();
            var kid = header?["kid"]?.GetValue<string>();
            var key = keys.FirstOrDefault(k => k.Kid == kid);
            if (key is null || header?["alg"]?.GetValue<string>() != "ES256") return new(null, kid, key);
            using var ecdsa = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = Secrets.FromBase64Url(key.X), Y = Secrets.FromBase64Url(key.Y) },
            });
            var valid = ecdsa.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), Secrets.FromBase64Url(parts[2]),
                HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            return new(valid ? JsonNode.Parse(Secrets.FromBase64Url(parts[1]))?.AsObject() : null, kid, key);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or CryptographicException)
        {
            return new(null, null, null);
        }
    }
}

/// <summary>
/// At start-up, before anything is signed: applies the operator's declarations (compromised keys, a rotation) to the
/// store's key set and registers this instance's key when the deployment has no active one. An instance whose key is
/// not the active one starts, but refuses to sign and reports unhealthy (<see cref="ProofSigner.Update"/>).
/// </summary>
public sealed partial class SigningKeyRegistration(
    IConsentStore store, ProofSigner signer, IOptions<SigningOptions> options, TimeProvider time, ILogger<SigningKeyRegistration> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var keys = await store.ListSigningKeysAsync(cancellationToken);
        var known = keys.ToDictionary(k => k.Kid, StringComparer.Ordinal);
        var active = keys.FirstOrDefault(k => k.IsActive);
        var retiring = settings.RetiredKeys.ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < settings.RetiredKeys.Count; i++)
        {
            var kid = settings.RetiredKeys[i];
            if (kid == signer.KeyId)
            {
                throw new SigningKeyException($"Signing:RetiredKeys:{i} names this instance's own key ({kid}, from {SigningKeyPem.Setting}): " +
                    $"to rotate, set {SigningKeyPem.Setting} to a new key and list the old key's kid in Signing:RetiredKeys.");
            }
            if (!known.ContainsKey(kid))
            {
                throw new SigningKeyException($"Signing:RetiredKeys:{i} ({kid}) names no key this deployment has signed with; " +
                    "the kids are listed at /.well-known/consent-signing-key.");
            }
        }
        if (known.TryGetValue(signer.KeyId, out var mine) && mine.RetiredAt is { } retiredAt && active is not null && retiring.Contains(active.Kid))
        {
            throw new SigningKeyException($"{SigningKeyPem.Setting} holds key {signer.KeyId}, retired at {retiredAt:O}: a retired key never signs again. " +
                $"Rotate to a new key (`{SigningKeyPem.MakeOne}`).");
        }
        foreach (var (kid, value) in settings.CompromisedKeys)
        {
            if (!known.TryGetValue(kid, out var compromisedKey))
            {
                throw new SigningKeyException($"Signing:CompromisedKeys:{kid} names no key this deployment has signed with; " +
                    "the kids are listed at /.well-known/consent-signing-key.");
            }
            if (kid == signer.KeyId)
            {
                throw new SigningKeyException($"Signing:CompromisedKeys:{kid} is the key in {SigningKeyPem.Setting}: a compromised key must not sign. " +
                    $"Set {SigningKeyPem.Setting} to a new key and list {kid} in Signing:RetiredKeys too.");
            }
            if (kid == active?.Kid && !retiring.Contains(kid))
            {
                throw new SigningKeyException($"Signing:CompromisedKeys:{kid} is the deployment's active key: retire it in the same start " +
                    $"(list it in Signing:RetiredKeys, with a new key in {SigningKeyPem.Setting}).");
            }
            var from = SigningOptionsValidation.ParseTime(value)!.Value;
            if (compromisedKey.CompromisedAt != from)
            {
                await store.MarkSigningKeyCompromisedAsync(kid, from, cancellationToken);
                LogCompromised(kid, from);
            }
        }

        var now = time.Now();
        var after = await store.ActivateSigningKeyAsync(signer.PublicKey with { ActivatedAt = now }, retiring, cancellationToken);
        if (after?.Kid == signer.KeyId && active?.Kid != signer.KeyId)
        {
            if (active is null) LogRegistered(signer.KeyId);
            else LogRotated(active.Kid, signer.KeyId);
        }
        await signer.RefusalAsync(cancellationToken, fresh: true); // logs an error when this instance may not sign
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(LogLevel.Information, "Registered signing key {Kid} as the deployment's active key")]
    private partial void LogRegistered(string kid);

    [LoggerMessage(LogLevel.Warning, "Rotated the signing key: {Old} is retired, {New} signs from now on")]
    private partial void LogRotated(string old, string @new);

    [LoggerMessage(LogLevel.Warning, "Signing key {Kid} is marked compromised from {From}")]
    private partial void LogCompromised(string kid, DateTimeOffset from);
}

/// <summary>The Signing settings, checked before anything starts (a bad value stops start-up, naming the setting).</summary>
public sealed partial class SigningOptionsValidation(IHostEnvironment environment, IConfiguration configuration) : IValidateOptions<SigningOptions>
{
    public ValidateOptionsResult Validate(string? name, SigningOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.PrivateKey))
        {
            if (environment.IsProduction() && !string.IsNullOrWhiteSpace(configuration.GetConnectionString("Mongo")))
            {
                failures.Add($"{SigningKeyPem.Setting} is required in Production on MongoDB (ConnectionStrings:Mongo is set): every instance of a " +
                    $"deployment must sign with the one key, so none may generate its own. Make one with `{SigningKeyPem.MakeOne}` and pass " +
                    "its PEM as Signing__PrivateKey (see README, \"Signing keys\").");
            }
        }
        else
        {
            try
            {
                SigningKeyPem.Import(options.PrivateKey, SigningKeyPem.Setting).Dispose();
            }
            catch (SigningKeyException e)
            {
                failures.Add(e.Message);
            }
        }
        for (var i = 0; i < options.RetiredKeys.Count; i++)
        {
            if (!KeyId().IsMatch(options.RetiredKeys[i]))
            {
                failures.Add($"Signing:RetiredKeys:{i} is not a key id: a kid is the 43-character base64url thumbprint listed at /.well-known/consent-signing-key.");
            }
        }
        foreach (var (kid, value) in options.CompromisedKeys)
        {
            if (!KeyId().IsMatch(kid))
            {
                failures.Add("Signing:CompromisedKeys has an entry whose name is not a key id: name each entry by the key's kid (43 base64url characters).");
            }
            else if (ParseTime(value) is null)
            {
                failures.Add($"Signing:CompromisedKeys:{kid} must be the time from which the key's signatures are not to be trusted, " +
                    "ISO 8601 with its offset, e.g. 2026-11-25T09:00:00Z.");
            }
        }
        if (options.ActiveKeyRecheck < TimeSpan.FromSeconds(1) || options.ActiveKeyRecheck > TimeSpan.FromMinutes(5))
        {
            failures.Add("Signing:ActiveKeyRecheck must be between 00:00:01 and 00:05:00.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static DateTimeOffset? ParseTime(string? value) =>
        value is not null && OffsetTime().IsMatch(value)
        && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) ? Clock.Truncate(at) : null;

    [GeneratedRegex("^[A-Za-z0-9_-]{43}\\z")]
    private static partial Regex KeyId();

    /// <summary>A date and time with its offset (Z or ±hh:mm): a compromise time must not depend on the server's zone.</summary>
    [GeneratedRegex("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})\\z")]
    private static partial Regex OffsetTime();
}

/// <summary><c>/health/ready</c> is unhealthy while this instance refuses to sign, with the reason.</summary>
public sealed class SigningHealthCheck(ProofSigner signer) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await signer.RefusalAsync(cancellationToken) is { } refusal
                ? HealthCheckResult.Unhealthy(refusal)
                : HealthCheckResult.Healthy($"Signing with the deployment's active key {signer.KeyId}.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The signing key set cannot be read from the store.");
        }
    }
}
