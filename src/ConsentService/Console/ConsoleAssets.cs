using System.Collections.Frozen;
using ConsentService.Snippet;
using Microsoft.AspNetCore.StaticFiles;

namespace ConsentService.PrivacyConsole;

/// <summary>
/// The console's built files (<c>Console/wwwroot/</c>, embedded as resources named <c>console/…</c>), so the
/// service runs the console without node or a folder on disk. Each file is compressed on its first request
/// (Brotli 11 is slow; paid once per file, as the snippet's variants are) and served with its strong ETag.
/// </summary>
/// <remarks>
/// The namespace is not <c>ConsentService.Console</c>: that would shadow <see cref="System.Console"/> for
/// every file under <c>ConsentService</c>.
/// </remarks>
public sealed class ConsoleAssets
{
    public const string ResourcePrefix = "console/";
    public const string IndexFile = "index.html";

    private readonly FrozenDictionary<string, Lazy<PrecompressedVariant>> _files;

    public ConsoleAssets()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var types = new FileExtensionContentTypeProvider();
        var files = new Dictionary<string, Lazy<PrecompressedVariant>>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal)) continue;
            // %(RecursiveDir) uses the build machine's separator.
            var path = resource[ResourcePrefix.Length..].Replace('\\', '/');
            var type = types.TryGetContentType(path, out var known) ? known : "application/octet-stream";
            if (type.StartsWith("text/", StringComparison.Ordinal) || type is "application/javascript" or "application/json" or "image/svg+xml")
            {
                type += "; charset=utf-8";
            }
            if (type.StartsWith("application/javascript", StringComparison.Ordinal)) type = "text/javascript; charset=utf-8";
            files[path] = new Lazy<PrecompressedVariant>(() => new PrecompressedVariant(Read(resource), type));
        }
        _files = files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The embedded file at <paramref name="path"/> (relative to wwwroot, '/'-separated), or null.</summary>
    public PrecompressedVariant? Find(string path) => _files.TryGetValue(path, out var file) ? file.Value : null;

    public IEnumerable<string> Paths => _files.Keys;

    private static byte[] Read(string resource)
    {
        using var stream = typeof(ConsoleAssets).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded resource {resource} is missing.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
