using System.Net;
using System.Net.Sockets;

namespace ConsentService.Consents;

/// <summary>
/// Keeps only what proof needs (GDPR Art. 5(1)(c)): the page without query or fragment, the browser
/// family and major version, the network prefix (/24 or /48) — never the full IP.
/// </summary>
public static class SourceMinimizer
{
    // Most specific first: Edge and Opera also carry "Chrome/", Chrome also "Safari/", Safari's version is in "Version/".
    private static readonly (string Token, string Name)[] Browsers =
    [
        ("Edg/", "Edge"), ("OPR/", "Opera"), ("FxiOS/", "Firefox"), ("Firefox/", "Firefox"), ("CriOS/", "Chrome"),
        ("HeadlessChrome/", "Chrome"), ("Chrome/", "Chrome"), ("Version/", "Safari"),
    ];

    /// <summary>"https://shop.example/cart?id=7#x" → "https://shop.example/cart"; null when not an http(s) URL.</summary>
    public static string? PageUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" && uri.UserInfo.Length == 0
            ? uri.GetLeftPart(UriPartial.Path)
            : null;

    public static string? IpPrefix(IPAddress? address)
    {
        if (address is null) return null;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        var (keep, bits) = address.AddressFamily == AddressFamily.InterNetwork ? (3, 24) : (6, 48);
        Array.Clear(bytes, keep, bytes.Length - keep);
        return $"{new IPAddress(bytes)}/{bits}";
    }

    /// <summary>"Mozilla/5.0 (X11; Linux x86_64) … Chrome/131.0.0.0 Safari/537.36" → "Chrome 131 (Linux)".</summary>
    public static string? UserAgent(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent)) return null;
        var os = OperatingSystem(userAgent);
        foreach (var (token, name) in Browsers)
        {
            var at = userAgent.IndexOf(token, StringComparison.Ordinal);
            if (at < 0) continue;
            var version = userAgent.AsSpan(at + token.Length);
            var length = 0;
            while (length < version.Length && length < 4 && char.IsAsciiDigit(version[length])) length++;
            if (length > 0) return $"{name} {version[..length]} ({os})";
        }
        return $"Other ({os})";
    }

    private static string OperatingSystem(string ua) =>
        ua.Contains("Android", StringComparison.Ordinal) ? "Android"
        : ua.Contains("iPhone", StringComparison.Ordinal) || ua.Contains("iPad", StringComparison.Ordinal) ? "iOS"
        : ua.Contains("Windows", StringComparison.Ordinal) ? "Windows"
        : ua.Contains("Mac OS X", StringComparison.Ordinal) ? "macOS"
        : ua.Contains("CrOS", StringComparison.Ordinal) ? "ChromeOS"
        : ua.Contains("Linux", StringComparison.Ordinal) ? "Linux"
        : "Other";
}
