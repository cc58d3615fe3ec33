using System.Net;
using ConsentService.Infrastructure;

namespace ConsentService.Sites;

/// <summary>
/// A site's <c>cookieDomain</c>: the Domain attribute the snippet writes its decision cookie with, so
/// that shop.example.com and blog.example.com share one decision. Checked here as browsers would
/// check it, so a setting that a browser would silently ignore is refused with the reason instead.
/// </summary>
public static partial class CookieDomains
{
    /// <summary>
    /// The normalised domain (lower-case ASCII, no leading dot), or null with an error in
    /// <paramref name="errors"/> under <paramref name="field"/>.
    /// </summary>
    public static string? Normalize(string value, string field, ValidationErrors errors)
    {
        // A leading dot is how the attribute used to be written (RFC 2109); browsers ignore it (RFC 6265 §5.2.3).
        var name = value.StartsWith('.') ? value[1..] : value;
        if (name.Contains(':', StringComparison.Ordinal) || name.StartsWith('[') || IPAddress.TryParse(name, out _))
        {
            errors.Add(field, $"'{value}' is an IP address: browsers keep cookies of an IP address host-only, so it cannot be shared.");
            return null;
        }
        if (PublicSuffixList.ToAscii(name) is not { } ascii || !Hostname().IsMatch(ascii))
        {
            errors.Add(field, $"'{value}' is not a domain name such as 'example.com'.");
            return null;
        }
        if (ascii.Split('.').All(label => label.All(char.IsAsciiDigit)))
        {
            errors.Add(field, $"'{value}' is an IP address: browsers keep cookies of an IP address host-only, so it cannot be shared.");
            return null;
        }
        if (PublicSuffixList.Default.IsPublicSuffix(ascii))
        {
            errors.Add(field, $"'{ascii}' is a public suffix (Public Suffix List): browsers refuse cookies for it, "
                + "since every site under it would share them. Use your own registrable domain, e.g. 'example." + ascii + "'.");
            return null;
        }
        return ascii;
    }

    /// <summary>Whether a page of <paramref name="origin"/> can read and write a cookie with Domain=<paramref name="domain"/>.</summary>
    public static bool Covers(string domain, string origin)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.HostNameType is not (UriHostNameType.Dns or UriHostNameType.Basic))
        {
            return false;
        }
        var host = uri.IdnHost.ToLowerInvariant();
        return host == domain || host.EndsWith("." + domain, StringComparison.Ordinal);
    }

    /// <summary>Adds an error for each origin that <paramref name="domain"/> does not cover, under <paramref name="field"/> or the origin's own field.</summary>
    public static void CheckCovers(string domain, IReadOnlyList<string> origins, string? field, ValidationErrors errors)
    {
        for (var i = 0; i < origins.Count; i++)
        {
            if (!Covers(domain, origins[i]))
            {
                errors.Add(field ?? $"allowedOrigins[{i}]",
                    $"Cookie domain '{domain}' does not cover allowed origin '{origins[i]}': a page there could neither read nor write the decision cookie.");
            }
        }
    }

    /// <summary>LDH labels of 1 to 63 characters, not starting or ending with a hyphen.</summary>
    [System.Text.RegularExpressions.GeneratedRegex("^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\z")]
    private static partial System.Text.RegularExpressions.Regex Hostname();
}
