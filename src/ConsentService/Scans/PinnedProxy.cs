using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ConsentService.Scans;

/// <summary>
/// The scan browser's only way out: a SOCKS5 proxy on loopback (RFC 1928, CONNECT without authentication)
/// that resolves each host name itself through the <see cref="AddressGuard"/> and connects to an address
/// the guard checked, never to a name. The browser sends names, not addresses (SOCKS5 resolves at the
/// proxy), so a DNS answer that changes between the check and the connection ("rebinding") cannot lead
/// it to a private address: there is no second lookup. Written here because no .NET SOCKS5 server is
/// among the packages this project can use, and the guarantee is exactly this pinning: the relay
/// after it is a stream copy each way.
/// </summary>
public sealed class PinnedProxy : IAsyncDisposable
{
    private const byte Version = 5;
    private const byte NoAuthentication = 0, NoAcceptableMethod = 0xFF;
    private const byte Connect = 1;
    private const byte IPv4 = 1, DomainName = 3, IPv6 = 4;
    private const byte Succeeded = 0, NotAllowed = 2, HostUnreachable = 4, CommandNotSupported = 7, AddressTypeNotSupported = 8;
    private static readonly TimeSpan Handshake = TimeSpan.FromSeconds(10);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly AddressGuard _guard;
    private readonly TimeSpan _connectTimeout;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public PinnedProxy(AddressGuard guard, TimeSpan connectTimeout)
    {
        (_guard, _connectTimeout) = (guard, connectTimeout);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Chromium's <c>--proxy-server</c>.</summary>
    public string Server => $"socks5://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var browser = client.GetStream();
            using var target = await OpenAsync(browser);
            if (target is null) return;
            await browser.WriteAsync(Reply(Succeeded), _stop.Token);
            var upstream = target.GetStream();
            // Either side closing ends the tunnel; disposing both ends the other copy.
            await Task.WhenAny(browser.CopyToAsync(upstream, _stop.Token), upstream.CopyToAsync(browser, _stop.Token));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The browser or the site hung up, or the scan ended: nothing to answer.
        }
    }

    /// <summary>The SOCKS5 handshake up to its reply: the connection to the checked address, or null after refusing.</summary>
    private async Task<TcpClient?> OpenAsync(NetworkStream browser)
    {
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        handshake.CancelAfter(Handshake);
        var ct = handshake.Token;
        var head = new byte[2];
        await browser.ReadExactlyAsync(head, ct);
        var methods = new byte[head[1]];
        await browser.ReadExactlyAsync(methods, ct);
        if (head[0] != Version || !methods.Contains(NoAuthentication))
        {
            await browser.WriteAsync(new[] { Version, NoAcceptableMethod }, ct);
            return null;
        }
        await browser.WriteAsync(new[] { Version, NoAuthentication }, ct);

        var request = new byte[4];
        await browser.ReadExactlyAsync(request, ct);
        string? host = request[3] switch
        {
            IPv4 => new IPAddress(await ReadAsync(browser, 4, ct)).ToString(),
            IPv6 => new IPAddress(await ReadAsync(browser, 16, ct)).ToString(),
            DomainName => Encoding.ASCII.GetString(await ReadAsync(browser, (await ReadAsync(browser, 1, ct))[0], ct)),
            _ => null,
        };
        if (host is null) return await RefuseAsync(browser, AddressTypeNotSupported, ct);
        var port = BinaryPrimitives.ReadUInt16BigEndian(await ReadAsync(browser, 2, ct));
        if (request[0] != Version || request[1] != Connect) return await RefuseAsync(browser, CommandNotSupported, ct);

        // The scan's token, not the handshake's: the guard keeps the verdict for every later connection to the host.
        var verdict = await _guard.CheckAsync(host, _stop.Token);
        if (verdict.Refusal is not null) return await RefuseAsync(browser, NotAllowed, ct);
        var target = new TcpClient(); // dual mode where the machine has IPv6: either family of address
        try
        {
            using var connecting = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            connecting.CancelAfter(_connectTimeout);
            // Only the addresses the guard checked: never the name again.
            await target.ConnectAsync(verdict.Addresses, port, connecting.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            target.Dispose();
            return await RefuseAsync(browser, HostUnreachable, ct);
        }
        return target;
    }

    private static async Task<byte[]> ReadAsync(NetworkStream stream, int count, CancellationToken ct)
    {
        var bytes = new byte[count];
        await stream.ReadExactlyAsync(bytes, ct);
        return bytes;
    }

    private static async Task<TcpClient?> RefuseAsync(NetworkStream browser, byte reply, CancellationToken ct)
    {
        await browser.WriteAsync(Reply(reply), ct);
        return null;
    }

    /// <summary>A reply to a request; its bound address, unknown to the browser and unused by it, is 0.0.0.0:0.</summary>
    private static byte[] Reply(byte code) => [Version, code, 0, IPv4, 0, 0, 0, 0, 0, 0];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
