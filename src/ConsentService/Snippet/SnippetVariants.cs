using System.Collections.Concurrent;
using System.IO.Compression;
using System.Security.Cryptography;
using ConsentService.Sites;
using Microsoft.Extensions.Primitives;

namespace ConsentService.Snippet;

/// <summary>One encoding of a variant: its bytes and their strong ETag, as header values ready to send.</summary>
public sealed class EncodedBody(byte[] bytes, string etag, string? contentEncoding)
{
    public byte[] Bytes { get; } = bytes;
    public string ETag { get; } = etag;
    public StringValues ETagHeader { get; } = etag;
    public StringValues ContentEncoding { get; } = contentEncoding is null ? StringValues.Empty : new StringValues(contentEncoding);
}

/// <summary>
/// The final bytes of one response (consent.js or config for one site, policy, jurisdiction and
/// PublicUrl) in every encoding we serve, built once: compressing at the smallest size costs
/// milliseconds, which is nothing once, and far too much per request.
/// </summary>
public sealed class PrecompressedVariant
{
    public PrecompressedVariant(byte[] identity, string contentType)
    {
        var tag = Convert.ToBase64String(SHA256.HashData(identity)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        ContentType = contentType;
        // A strong validator names one representation: each encoding gets its own tag.
        Identity = new EncodedBody(identity, $"\"{tag}\"", null);
        Gzip = new EncodedBody(Gzipped(identity), $"\"{tag}-gz\"", "gzip");
        Brotli = new EncodedBody(Brotlied(identity), $"\"{tag}-br\"", "br");
    }

    public StringValues ContentType { get; }
    public EncodedBody Identity { get; }
    public EncodedBody Gzip { get; }
    public EncodedBody Brotli { get; }

    private static byte[] Gzipped(byte[] body)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize))
        {
            gzip.Write(body);
        }
        return buffer.ToArray();
    }

    private static byte[] Brotlied(byte[] body)
    {
        // Quality 11 and the largest window: the slowest setting, paid once per variant.
        using var encoder = new BrotliEncoder(quality: 11, window: 24);
        var output = new byte[BrotliEncoder.GetMaxCompressedLength(body.Length)];
        var status = encoder.Compress(body, output, out _, out var written, isFinalBlock: true);
        if (status != System.Buffers.OperationStatus.Done) throw new InvalidOperationException($"Brotli compression failed: {status}.");
        return output[..written];
    }
}

public enum SnippetKind { Script, Config }

/// <summary>
/// What a served body is made of, and nothing else: the site's rules the config carries, the
/// current policy (versions are append-only, so its number and content hash name it; the material
/// version is derived from the same list), the resolved jurisdiction and the PublicUrl. A publish or
/// a site change gives a new key, so the next request builds new bytes; no invalidation is needed,
/// and nothing depends on UpdatedAt moving between two writes in the same tick.
/// </summary>
public readonly record struct VariantKey(
    SnippetKind Kind,
    string SiteId,
    string DefaultLocale,
    JurisdictionMode JurisdictionMode,
    int ConsentMaxAgeDays,
    int RefusalReaskDays,
    int PolicyVersion,
    string ContentHash,
    JurisdictionMode Jurisdiction,
    string? Api,
    string? CookieDomain = null);

/// <summary>Built variants by key. Process-wide, so it works whichever read cache the service is configured with.</summary>
public static class SnippetVariants
{
    /// <summary>Superseded variants (old policy versions) are never read again: clearing all at the bound drops them.</summary>
    private const int Limit = 1024;

    private static readonly ConcurrentDictionary<VariantKey, PrecompressedVariant> Built = new();

    public static PrecompressedVariant GetOrBuild<TState>(in VariantKey key, TState state, Func<TState, PrecompressedVariant> build)
    {
        if (Built.TryGetValue(key, out var variant)) return variant;
        variant = build(state);
        if (Built.Count >= Limit) Built.Clear();
        Built[key] = variant;
        return variant;
    }
}
