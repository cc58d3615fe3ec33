using Microsoft.VisualBasic.FileIO;

namespace ConsentService.Scans.Catalogue;

/// <summary>One entry of the Open Cookie Database: a cookie (or a prefix, when <see cref="Wildcard"/>) of a platform.</summary>
public sealed record CatalogueEntry(string Platform, string Category, string Name, string? Domain, string Description, string? PrivacyUrl, bool Wildcard)
{
    /// <summary>Functional, security and necessary cookies may be set before consent; analytics, marketing and personalization may not.</summary>
    public bool Necessary => Category is "Functional" or "Security" or "Necessary";
}

/// <summary>
/// The vendored Open Cookie Database (Apache-2.0, see NOTICE.md): names the vendor and likely purpose of
/// cookies and hosts the site's policy does not. Loaded once from the embedded CSV.
/// </summary>
public sealed class CookieCatalogue
{
    public const string Version = "2026-01-21 (0ee5a17fe1cb002943f89370d24fc26a4226061c)";
    public const string ResourceName = "ConsentService.Scans.open-cookie-database.csv";

    private readonly Dictionary<string, CatalogueEntry> _exact = new(StringComparer.Ordinal);
    private readonly List<CatalogueEntry> _prefixes = [];
    private readonly List<(string Domain, CatalogueEntry Entry)> _domains = [];

    public int Count { get; }

    public CatalogueInfo Info => new("Open Cookie Database", "Apache-2.0", "https://github.com/jkwakman/Open-Cookie-Database", Version, Count);

    public CookieCatalogue(Stream csv)
    {
        using var parser = new TextFieldParser(csv) { TextFieldType = FieldType.Delimited, HasFieldsEnclosedInQuotes = true };
        parser.SetDelimiters(",");
        parser.ReadFields(); // the header
        while (parser.ReadFields() is { } f)
        {
            if (f.Length < 10 || f[3].Length == 0) continue;
            var domain = f[4].Replace("(3rd party)", "", StringComparison.Ordinal).Trim().TrimStart('.').ToLowerInvariant();
            var entry = new CatalogueEntry(f[1], f[2], f[3], domain.Length == 0 ? null : domain, f[5],
                f[8].StartsWith("http", StringComparison.Ordinal) ? f[8] : null, f[9] == "1");
            Count++;
            if (entry.Wildcard) _prefixes.Add(entry);
            else _exact.TryAdd(entry.Name, entry);
            if (entry.Domain is { } d && !d.Contains(' ', StringComparison.Ordinal)) _domains.Add((d, entry));
        }
        // Longest prefix first: "_pk_id." before "_pk_".
        _prefixes.Sort((a, b) => b.Name.Length.CompareTo(a.Name.Length));
    }

    public static CookieCatalogue LoadEmbedded()
    {
        using var stream = typeof(CookieCatalogue).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing.");
        return new CookieCatalogue(stream);
    }

    public CatalogueEntry? FindCookie(string name) =>
        _exact.TryGetValue(name, out var entry) ? entry : _prefixes.FirstOrDefault(p => name.StartsWith(p.Name, StringComparison.Ordinal));

    /// <summary>The platform whose listed domain is <paramref name="host"/> or a parent of it.</summary>
    public CatalogueEntry? FindHost(string host)
    {
        host = host.ToLowerInvariant();
        return _domains.Where(d => host == d.Domain || host.EndsWith("." + d.Domain, StringComparison.Ordinal))
            .OrderByDescending(d => d.Domain.Length).Select(d => d.Entry).FirstOrDefault();
    }
}
