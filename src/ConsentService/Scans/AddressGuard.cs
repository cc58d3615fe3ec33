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
    private readonly ConcurrentDictionary<string, Task<HostVerdict>> _verdicts = new(StringComparer.OrdinalIgnoreCase);
    private readonly IReadOnlyList<IPNetwork> _allowed = [.. options.Value.AllowedPrivateNetworks.Select(IPNetwork.Parse)];

    /// <summary>Null when the browser may fetch <paramref name="url"/>, else why not.</summary>
    public async Task<string?> RefusalAsync(Uri url, CancellationToken ct)
    {
        if (url.Scheme is "data" or "blob" or "about") return null; // never leaves the browser
        if (url.Scheme is not ("http" or "https")) return $"The scheme '{url.Scheme}' is not scanned.";
        return (await CheckAsync(url.IdnHost, ct)).Refusal;
    }

    /// <summary>
    /// The addresses of <paramref name="host"/> (a name or an address literal) and whether they may be reached;
    /// resolved once per host and guard (a guard lives for one scan: a page makes many requests to few hosts),
    /// so the <see cref="PinnedProxy"/> connects to exactly what was checked.
    /// </summary>
    public Task<HostVerdict> CheckAsync(string host, CancellationToken ct) => _verdicts.GetOrAdd(host, h => CheckHostAsync(h, ct));

    private async Task<HostVerdict> CheckHostAsync(string host, CancellationToken ct)
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
                addresses = [];
            }
        }
        if (addresses.Length == 0) return new([], $"The host '{host}' does not resolve.");
        if (o.AllowPrivateNetworks) return new(addresses, null);
        var refused = addresses.FirstOrDefault(a => !PublicAddresses.IsPublic(a) && !_allowed.Any(n => n.Contains(Unmapped(a))));
        return new(addresses, refused is null ? null : $"The host '{host}' resolves to {refused}, a non-public address.");
    }

    private static IPAddress Unmapped(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}

/// <summary>What a host resolved to, and why it may not be reached (null when it may).</summary>
public sealed record HostVerdict(IPAddress[] Addresses, string? Refusal);
