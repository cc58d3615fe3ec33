using System.Net;
using System.Net.Sockets;

namespace ConsentService.Infrastructure;

/// <summary>
/// Where the service's own outbound traffic may go (webhook deliveries, the scanner's browser): public unicast
/// addresses only. Refused: loopback, "this" network, private, shared (carrier-grade NAT), link-local (cloud
/// metadata), multicast, reserved, benchmarking and documentation ranges, in IPv4 and IPv6, and NAT64, which reaches
/// whatever IPv4 address the translator is given. An IPv4-mapped or 6to4 address is judged by the IPv4 address it carries.
/// </summary>
public static class PublicAddresses
{
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork) return !NonPublicV4.Any(n => n.Contains(address));
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return false;
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6Any) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal
            || address.IsIPv6Multicast || address.IsIPv6UniqueLocal || NonPublicV6.Any(n => n.Contains(address)))
        {
            return false;
        }
        var v6 = address.GetAddressBytes();
        return !(v6[0] == 0x20 && v6[1] == 0x02) || IsPublic(new IPAddress(v6[2..6])); // 6to4 (2002::/16)
    }

    private static readonly IPNetwork[] NonPublicV4 =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.0.2.0/24"),
        IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("198.51.100.0/24"), IPNetwork.Parse("203.0.113.0/24"),
        IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
    ];

    /// <summary>NAT64, documentation, discard-only.</summary>
    private static readonly IPNetwork[] NonPublicV6 = [IPNetwork.Parse("64:ff9b::/96"), IPNetwork.Parse("2001:db8::/32"), IPNetwork.Parse("100::/64")];
}
