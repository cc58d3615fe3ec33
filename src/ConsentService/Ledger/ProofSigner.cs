using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Ledger;

public sealed class SigningOptions
{
    public const string Section = "Signing";

    /// <summary>
    /// The ECDSA P-256 private key as PEM (PKCS#8 or SEC1). Unset: one is generated once and kept in
    /// <c>{Storage:DataDirectory}/signing-key.pem</c>, which suits a single instance; every instance of
    /// a deployment must share one key, so set it there (required in Production on MongoDB).
    /// </summary>
    public string? PrivateKey { get; set; }

    /// <summary>
    /// Kids of keys to retire: when the deployment's active key is one of them, this instance's key takes
    /// over at start-up (a rotation). Kids that are already retired are ignored, so the list may stay set.
    /// </summary>
    public List<string> RetiredKeys { get; set; } = [];

    /// <summary>Kid → the time (ISO 8601 with offset) from which that key's signatures are not to be trusted.</summary>
    public Dictionary<string, string> CompromisedKeys { get; set; } = [];

    /// <summary>
    /// How stale this instance's view of the deployment's active key may be: an instance whose key was rotated
    /// out by another instance stops signing at most this long after the rotation.
    /// </summary>
    public TimeSpan ActiveKeyRecheck { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Signs receipts and checkpoints as compact JWS (RFC 7515) with ES256, so anyone holding the public
/// key from <c>/.well-known/consent-signing-key</c> can check them with any JOSE library. It signs only
/// while its key is the deployment's active key in the store (<see cref="SigningKeyRing"/>); otherwise
/// <see cref="Sign"/> throws <see cref="SigningRefusedException"/>.
/// </summary>
public sealed partial class ProofSigner : IDisposable
{
    private const string NotRegistered = "This instance's signing key is not registered in the store yet.";

    private readonly ECDsa _key;
    private readonly SigningKeyRing? _ring;
    private readonly ILogger? _logger;
    private volatile string? _refusal;
    private int _refreshing;

    /// <summary>A signer on its own, with no deployment key set to answer to (tools and unit tests).</summary>
    public ProofSigner(ECDsa key) : this(key, null, null)
    {
    }

    public ProofSigner(ECDsa key, SigningKeyRing? ring, ILogger? logger)
    {
        if (key.KeySize != 256) throw new ArgumentException("The signing key must be an ECDSA P-256 key.", nameof(key));
        (_key, _ring, _logger) = (key, ring, logger);
        _refusal = ring is null ? null : NotRegistered;
        var p = key.ExportParameters(includePrivateParameters: false);
        PublicKey = new SigningKey(Thumbprint(p.Q.X!, p.Q.Y!), Secrets.Base64Url(p.Q.X!), Secrets.Base64Url(p.Q.Y!), DateTimeOffset.MinValue);
        KeyId = PublicKey.Kid;
    }

    public string KeyId { get; }

    /// <summary>This instance's public key (its activation time is set when it is registered).</summary>
    public SigningKey PublicKey { get; }

    /// <summary>RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no spaces.</summary>
    public static string Thumbprint(byte[] x, byte[] y) => Secrets.Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(
        $$"""{"crv":"P-256","kty":"EC","x":"{{Secrets.Base64Url(x)}}","y":"{{Secrets.Base64Url(y)}}"}""")));

    /// <summary>The configured key, else the one kept in the data folder (made on first use).</summary>
    public static ProofSigner Load(SigningOptions options, string dataDirectory, ILogger logger, SigningKeyRing? ring = null)
    {
        if (options.PrivateKey is { Length: > 0 } pem)
        {
            return new ProofSigner(SigningKeyPem.Import(pem, SigningKeyPem.Setting), ring, logger);
        }
        var path = Path.Combine(dataDirectory, "signing-key.pem");
        if (File.Exists(path))
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SigningKeyException($"The signing key file {path} cannot be read ({e.GetType().Name}): give the service's user read access to it, or set {SigningKeyPem.Setting}.");
            }
            return new ProofSigner(SigningKeyPem.Import(text, path), ring, logger);
        }
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            Directory.CreateDirectory(dataDirectory);
            // Created 0600 before the key is written into it: no moment where another user could read it.
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var file = new FileStream(path, create))
            using (var writer = new StreamWriter(file))
            {
                writer.Write(key.ExportPkcs8PrivateKeyPem());
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            key.Dispose();
            throw new SigningKeyException($"No signing key is configured and none can be written to {path} ({e.GetType().Name}): make {dataDirectory} writable, or set {SigningKeyPem.Setting}.");
        }
        LogGenerated(logger, path);
        return new ProofSigner(key, ring, logger);
    }

    /// <summary>Checks (at most <see cref="SigningOptions.ActiveKeyRecheck"/> stale) that this instance's key is the deployment's active key.</summary>
    /// <exception cref="SigningRefusedException">It is not: another key is active, or this one was retired.</exception>
    public async Task EnsureMaySignAsync(CancellationToken ct)
    {
        if (await RefusalAsync(ct) is { } refusal)
        {
            throw new SigningRefusedException(refusal);
        }
    }

    /// <summary>Why this instance may not sign, or null when it may; re-reads the store when the last look is stale.</summary>
    public async Task<string?> RefusalAsync(CancellationToken ct, bool fresh = false)
    {
        if (_ring is not null)
        {
            Update(await _ring.GetAsync(ct, fresh));
        }
        return _refusal;
    }

    /// <summary>Takes the deployment's key set as read from the store: signing goes on only while this key is the active one.</summary>
    public void Update(IReadOnlyList<SigningKey> keys)
    {
        var active = keys.FirstOrDefault(k => k.IsActive);
        var mine = keys.FirstOrDefault(k => k.Kid == KeyId);
        string? refusal = active?.Kid == KeyId ? null
            : mine?.RetiredAt is { } retired
                ? $"This instance holds signing key {KeyId}, retired at {retired:O}; the deployment's active key is {active?.Kid ?? "none"}. " +
                  $"A retired key never signs again: start this instance with the active key in {SigningKeyPem.Setting}."
                : $"The deployment's active signing key is {active?.Kid ?? "none"}; this instance holds {KeyId}. " +
                  $"Start it with the active key in {SigningKeyPem.Setting}, or declare a rotation by listing {active?.Kid ?? "the active kid"} in Signing:RetiredKeys.";
        var before = _refusal;
        _refusal = refusal;
        if (refusal is not null && refusal != before && _logger is not null)
        {
            LogRefusing(_logger, refusal);
        }
    }

    /// <summary>A compact JWS over <paramref name="payload"/>; <paramref name="type"/> says what it is.</summary>
    /// <exception cref="SigningRefusedException">This instance's key is not the deployment's active key.</exception>
    public string Sign(object payload, string type)
    {
        if (_refusal is { } refusal)
        {
            throw new SigningRefusedException(refusal);
        }
        if (_ring is { IsStale: true } && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            // Callers that did not ask first (EnsureMaySignAsync) still see a rotation soon after.
            _ = Task.Run(async () =>
            {
                try
                {
                    await RefusalAsync(CancellationToken.None);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // The next signature tries again; the store's health check reports the store.
                }
                finally
                {
                    Volatile.Write(ref _refreshing, 0);
                }
            });
        }
        var header = Secrets.Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { alg = "ES256", kid = KeyId, typ = type }));
        var body = Secrets.Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload, JsonDefaults.Options));
        var signature = _key.SignData(Encoding.ASCII.GetBytes($"{header}.{body}"), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return $"{header}.{body}.{Secrets.Base64Url(signature)}";
    }

    public void Dispose() => _key.Dispose();

    [LoggerMessage(LogLevel.Warning, "Generated a signing key in {Path}; set Signing:PrivateKey to share one key across instances")]
    private static partial void LogGenerated(ILogger logger, string path);

    [LoggerMessage(LogLevel.Error, "Refusing to sign receipts and checkpoints: {Reason}")]
    private static partial void LogRefusing(ILogger logger, string reason);
}

/// <summary>This instance may not sign now (its key is not the deployment's active key): writes answer 503.</summary>
public sealed class SigningRefusedException(string message) : Exception(message);

/// <summary>The signing key or its settings are unusable: start-up stops with this message (it never holds key material).</summary>
public sealed class SigningKeyException(string message) : Exception(message);
