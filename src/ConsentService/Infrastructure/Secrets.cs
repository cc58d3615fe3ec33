using System.Security.Cryptography;
using System.Text;

namespace ConsentService.Infrastructure;

/// <summary>Random identifiers and secrets, all from the OS CSPRNG and base64url-encoded.</summary>
public static class Secrets
{
    /// <summary>A random token of <paramref name="bytes"/> bytes, base64url without padding.</summary>
    public static string Token(int bytes) => Base64Url(RandomNumberGenerator.GetBytes(bytes));

    public static string Base64Url(ReadOnlySpan<byte> data) => System.Buffers.Text.Base64Url.EncodeToString(data);

    /// <summary>Decodes base64url (padding optional); <see cref="FormatException"/> when it is not.</summary>
    public static byte[] FromBase64Url(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);

    /// <summary>Lower-case hex SHA-256 of a UTF-8 string: how API keys are stored and looked up.</summary>
    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Compares two secrets in time independent of where they differ.</summary>
    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));
}
