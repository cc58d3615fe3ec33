using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;

namespace ConsentService.Ledger;

public sealed class SigningOptions
{
    public const string Section = "Signing";

    /// <summary>
    /// The ECDSA P-256 private key as PEM (PKCS#8 or SEC1). Unset: one is generated once and kept in
    /// <c>{Storage:DataDirectory}/signing-key.pem</c>, which suits a single instance; every instance of
    /// a deployment must share one key, so set it there.
    /// </summary>
    public string? PrivateKey { get; set; }
}

/// <summary>
/// Signs receipts and checkpoints as compact JWS (RFC 7515) with ES256, so anyone holding the public
/// key from <c>/.well-known/consent-signing-key</c> can check them with any JOSE library.
/// </summary>
public sealed class ProofSigner : IDisposable
{
    private readonly ECDsa _key;

    public ProofSigner(ECDsa key)
    {
        if (key.KeySize != 256) throw new ArgumentException("The signing key must be an ECDSA P-256 key.", nameof(key));
        _key = key;
        var p = key.ExportParameters(includePrivateParameters: false);
        var (x, y) = (Secrets.Base64Url(p.Q.X!), Secrets.Base64Url(p.Q.Y!));
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no spaces.
        KeyId = Secrets.Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}""")));
        PublicJwk = new JsonObject { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = x, ["y"] = y, ["kid"] = KeyId, ["use"] = "sig", ["alg"] = "ES256" };
    }

    public string KeyId { get; }

    public JsonObject PublicJwk { get; }

    /// <summary>The configured key, else the one kept in the data folder (made on first use).</summary>
    public static ProofSigner Load(SigningOptions options, string dataDirectory, ILogger logger)
    {
        var key = ECDsa.Create();
        if (options.PrivateKey is { Length: > 0 } pem)
        {
            key.ImportFromPem(pem);
            return new ProofSigner(key);
        }
        var path = Path.Combine(dataDirectory, "signing-key.pem");
        if (File.Exists(path))
        {
            key.ImportFromPem(File.ReadAllText(path));
            return new ProofSigner(key);
        }
        key.GenerateKey(ECCurve.NamedCurves.nistP256);
        Directory.CreateDirectory(dataDirectory);
        File.WriteAllText(path, key.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        logger.LogWarning("Generated a signing key in {Path}; set Signing:PrivateKey to share one key across instances", path);
        return new ProofSigner(key);
    }

    /// <summary>A compact JWS over <paramref name="payload"/>; <paramref name="type"/> says what it is.</summary>
    public string Sign(object payload, string type)
    {
        var header = Secrets.Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { alg = "ES256", kid = KeyId, typ = type }));
        var body = Secrets.Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload, JsonDefaults.Options));
        var signature = _key.SignData(Encoding.ASCII.GetBytes($"{header}.{body}"), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return $"{header}.{body}.{Secrets.Base64Url(signature)}";
    }

    /// <summary>The payload of a JWS this service signed, or null when the signature does not hold.</summary>
    public JsonObject? Verify(string jws)
    {
        var parts = jws.Split('.');
        if (parts.Length != 3) return null;
        try
        {
            var valid = _key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), Secrets.FromBase64Url(parts[2]),
                HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            return valid ? JsonNode.Parse(Secrets.FromBase64Url(parts[1]))?.AsObject() : null;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }

    public void Dispose() => _key.Dispose();
}
