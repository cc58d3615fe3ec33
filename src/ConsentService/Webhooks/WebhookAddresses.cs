using System.Net;
using System.Net.Sockets;
using ConsentService.Infrastructure;

namespace ConsentService.Webhooks;

/// <summary>
/// Which addresses a webhook may reach: public unicast only (<see cref="PublicAddresses"/>), unless private networks are allowed. Checked on the
/// address the connection actually goes to (<see cref="ConnectAsync"/>), so a name that resolves to a public
/// address at registration and to 127.0.0.1 later (DNS rebinding) is still refused.
/// </summary>
public static class WebhookAddresses
{
    /// <summary>A host name that can only mean this machine, refused at registration without a lookup.</summary>
    public static bool IsLocalName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
        || host.EndsWith(".localhost.", StringComparison.OrdinalIgnoreCase) || host.Equals("localhost.", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host once, refuses when any address is not
    /// public (unless allowed), and connects to exactly the addresses it checked.
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        if (!allowPrivate && addresses.FirstOrDefault(a => !PublicAddresses.IsPublic(a)) is { } refused)
        {
            throw new WebhookAddressRefusedException($"{host} resolves to {refused}, which is not a public address.");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

public sealed class WebhookAddressRefusedException : Exception
{
    public WebhookAddressRefusedException() { }
    public WebhookAddressRefusedException(string message) : base(message) { }
    public WebhookAddressRefusedException(string message, Exception inner) : base(message, inner) { }
}
