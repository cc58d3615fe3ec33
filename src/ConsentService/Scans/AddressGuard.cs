using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ConsentService.Infrastructure;
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
        var refused = addresses.FirstOrDefault(a => !PublicAddresses.IsPublic(a) && !_allowed.Any(n => n.Contains(Unmapped(a))));
        return refused is null ? null : $"The host '{host}' resolves to {refused}, a non-public address.";
    }

    private static IPAddress Unmapped(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
