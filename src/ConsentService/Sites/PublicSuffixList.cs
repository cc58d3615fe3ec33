using System.Globalization;

namespace ConsentService.Sites;

/// <summary>
/// The Public Suffix List (publicsuffix.org), both its ICANN and private sections, as browsers apply
/// it to cookies: a cookie's Domain must not be a public suffix. The list is vendored, dated, in
/// <c>public_suffix_list.dat</c> (see its NOTICE and scripts/update-public-suffix-list.sh); no
/// maintained NuGet package for it is available here. Matching follows the list's published
/// algorithm (https://github.com/publicsuffix/list/wiki/Format): the longest matching rule wins,
/// an exception rule (<c>!</c>) beats everything, <c>*</c> matches one label, and "*" is the default.
/// </summary>
public sealed class PublicSuffixList
{
    private const string Resource = "ConsentService.Sites.public_suffix_list.dat";

    private static readonly Lazy<PublicSuffixList> Embedded = new(() =>
    {
        using var stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"Embedded resource {Resource} is missing.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    });

    private static readonly IdnMapping Idn = new();

    private readonly HashSet<string> _rules;
    private readonly HashSet<string> _exceptions;

    private PublicSuffixList(HashSet<string> rules, HashSet<string> exceptions)
    {
        _rules = rules;
        _exceptions = exceptions;
    }

    /// <summary>The vendored list, parsed once.</summary>
    public static PublicSuffixList Default => Embedded.Value;

    /// <summary>Reads the list's text format: one rule per line, <c>//</c> comments, rules kept in their ASCII (punycode) form.</summary>
    public static PublicSuffixList Parse(string text)
    {
        var rules = new HashSet<string>(StringComparer.Ordinal);
        var exceptions = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            // The format: a rule is the line up to its first whitespace.
            var line = raw.Trim();
            var space = line.IndexOfAny([' ', '\t']);
            if (space >= 0) line = line[..space];
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal)) continue;
            if (line[0] == '!')
            {
                if (ToAscii(line[1..]) is { } exception) exceptions.Add(exception);
            }
            else if (ToAscii(line) is { } rule)
            {
                rules.Add(rule);
            }
        }
        return new PublicSuffixList(rules, exceptions);
    }

    /// <summary>
    /// The public suffix of <paramref name="domain"/> (ASCII, lower case), e.g. "co.uk" for
    /// "shop.example.co.uk"; null for a name that is not a domain (empty label, leading dot).
    /// </summary>
    public string? PublicSuffix(string domain)
    {
        if (ToAscii(domain) is not { } ascii) return null;
        var labels = ascii.Split('.');
        // Longest match first: the first suffix (from the left) that a rule matches is the longest.
        for (var i = 0; i < labels.Length; i++)
        {
            var suffix = string.Join('.', labels[i..]);
            if (_exceptions.Contains(suffix))
            {
                // An exception rule: the public suffix is the rule minus its leftmost label.
                return string.Join('.', labels[(i + 1)..]);
            }
            if (_rules.Contains(suffix)) return suffix;
            if (i + 1 < labels.Length && _rules.Contains("*." + string.Join('.', labels[(i + 1)..]))) return suffix;
        }
        // The default rule "*": an unlisted top-level label is a public suffix.
        return labels[^1];
    }

    /// <summary>
    /// The registrable domain (public suffix plus one label), e.g. "example.co.uk" for
    /// "shop.example.co.uk"; null when <paramref name="domain"/> is itself a public suffix or not a domain.
    /// </summary>
    public string? RegistrableDomain(string domain)
    {
        if (ToAscii(domain) is not { } ascii || PublicSuffix(ascii) is not { } suffix || ascii.Length == suffix.Length) return null;
        var head = ascii[..(ascii.Length - suffix.Length - 1)];
        return head[(head.LastIndexOf('.') + 1)..] + "." + suffix;
    }

    /// <summary>Whether a cookie may be scoped to <paramref name="domain"/>: it is a domain and not a public suffix.</summary>
    public bool IsPublicSuffix(string domain) => RegistrableDomain(domain) is null;

    /// <summary>Lower-case ASCII (IDN labels in punycode); null for an empty name, an empty label or a leading dot.</summary>
    public static string? ToAscii(string domain)
    {
        if (domain.Length == 0 || domain.Length > 253 || domain.Split('.').Any(l => l.Length == 0)) return null;
        if (domain.All(char.IsAscii)) return domain.ToLowerInvariant();
        try
        {
            return Idn.GetAscii(domain).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
