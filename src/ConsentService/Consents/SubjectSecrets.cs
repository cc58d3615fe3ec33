using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ConsentService.Infrastructure;

namespace ConsentService.Consents;

/// <summary>
/// The write secret of an anonymous subject (DESIGN §3, "a subject id is a name, not a credential"): random,
/// at least 128 bits, kept by the client beside the id and sent with every anonymous write. The store keeps
/// only its SHA-256. A slow password hash (bcrypt, Argon2) exists to make guessing low-entropy passwords
/// expensive; a 128-bit random value cannot be guessed at any speed, so one SHA-256 is as strong and keeps
/// the write path fast.
/// </summary>
public static partial class SubjectSecrets
{
    public const string Rule = "22 to 128 base64url characters from a secure random source (16 bytes or more).";

    /// <summary>One answer for a missing and a wrong secret, whether or not the subject exists.</summary>
    public const string Refusal =
        "An anonymous write for a subject id must carry that subject's write secret (subjectSecret), the one sent with " +
        "its first record. Nothing was recorded.";

    /// <summary>A new secret: 16 random bytes, base64url (22 characters).</summary>
    public static string New() => Secrets.Token(16);

    public static bool IsWellFormed(string secret) => Format().IsMatch(secret) && SubjectIds.LooksRandom(secret);

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>Constant time: how long a refusal takes says nothing about how much of the secret was right.</summary>
    public static bool Matches(byte[] storedHash, byte[] presentedHash) => CryptographicOperations.FixedTimeEquals(storedHash, presentedHash);

    /// <summary>
    /// The idempotency key as stored: SHA-256 over the caller and the client's key, so a key replays only to
    /// the caller that made it (DESIGN §3, "idempotency keys are scoped to the caller"). The caller is
    /// <paramref name="scope"/>: the write secret's hash for an anonymous write, the API key's id for a
    /// back end. Another caller sending the same key string gets a key of its own and a fresh write: it learns
    /// nothing of the first, not even that the key was used. The client's key itself is never stored.
    /// </summary>
    public static string ScopedIdempotencyKey(string scope, string key) =>
        "idem_" + Secrets.Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(scope + "\n" + key)));

    public static string AnonymousScope(byte[] secretHash) => "secret:" + Convert.ToHexStringLower(secretHash);

    public static string KeyScope(string? keyId) => "key:" + (keyId ?? "operator");

    [GeneratedRegex("^[A-Za-z0-9_-]{22,128}\\z")]
    private static partial Regex Format();
}
