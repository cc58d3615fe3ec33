using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace ConsentService.Scans;

/// <summary>
/// Keeps the scanner's browser off loopback, private, link-local and other non-public addresses (SSRF):
/// every request the browser makes is checked here after resolving its host, not only the start URL.
/// </summary>
public sealed class AddressGuard(IOptions<ScanOptions> options)
{
    private readonly ConcurrentDictionary<string, Task<string?>> _verdicts = new(StringComparer.OrdinalIgnoreCase);
    private readonly IReadOnlyList<IPNetwork> _allowed = [.. options.Value.AllowedPrivateNetworks.Select(IPNetwork.Parse)];

    /// <summary>Null when the browser may fetch <paramref name="url"/>, else why not.</summary>
    public async Task<string?> RefusalAsync(Uri url, CancellationToken ct)
    {
        if (url.Scheme is "data" or "blob" or "about") return null; // never leaves the browser
        if (url.Scheme is not ("http" or "https")) return $"The scheme '{url.Scheme}' is not scanned.";
        // Cached per host and guard (a guard lives for one scan): a page makes many requests to few hosts.
        return await _verdicts.GetOrAdd(url.IdnHost, host => CheckHostAsync(host, ct));
    }

    private async Task<string?> CheckHostAsync(string host, CancellationToken ct)
    {
        var o = options.Value;
        IPAddress[] addresses;
        if (o.HostMap.TryGetValue(host, out var mapped)) addresses = [IPAddress.Parse(mapped)];
        else if (IPAddress.TryParse(host.Trim('[', ']'), out var literal)) addresses = [literal];
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, ct);
            }
            catch (SocketException)
            {
                return $"The host '{host}' does not resolve.";
            }
        }
        if (o.AllowPrivateNetworks) return null;
        var refused = addresses.FirstOrDefault(a => !IsPublic(a) && !_allowed.Any(n => n.Contains(Unmapped(a))));
        return refused is null ? null : $"The host '{host}' resolves to {refused}, a non-public address.";
    }

    private static IPAddress Unmapped(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    public static bool IsPublic(IPAddress address)
    {
        address = Unmapped(address);
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) return false;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal
                || NonPublicV6.Any(n => n.Contains(address)));
        }
        return !NonPublicV4.Any(n => n.Contains(address));
    }

    private static readonly IPNetwork[] NonPublicV4 =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.0.2.0/24"),
        IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("198.51.100.0/24"), IPNetwork.Parse("203.0.113.0/24"),
        IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
    ];

    private static readonly IPNetwork[] NonPublicV6 = [IPNetwork.Parse("64:ff9b::/96"), IPNetwork.Parse("2001:db8::/32"), IPNetwork.Parse("100::/64")];
}
