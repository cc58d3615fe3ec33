using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ConsentService.Tests.Infrastructure;

/// <summary>
/// A TCP relay on loopback in front of a server, to cut one client off while others still reach it.
/// <see cref="Cut"/> drops every byte both ways but keeps the connections open: the client believes it is
/// connected, and a command it sends fails on its own timeout without ever reaching the server.
/// <see cref="Heal"/> closes those connections, so the client reconnects through a relay that forwards again.
/// </summary>
public sealed class PartitionProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Socket> _open = new();
    private volatile bool _cut;

    private PartitionProxy(string target)
    {
        var colon = target.LastIndexOf(':');
        (_targetHost, _targetPort) = (target[..colon], int.Parse(target[(colon + 1)..]));
        _listener.Start();
        _ = AcceptAsync();
    }

    /// <summary>Relays to <paramref name="target"/> (host:port).</summary>
    public static PartitionProxy Start(string target) => new(target);

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public void Cut() => _cut = true;

    public void Heal()
    {
        _cut = false;
        foreach (var (client, server) in _open)
        {
            Close(client, server);
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(_stop.Token);
                var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await server.ConnectAsync(_targetHost, _targetPort, _stop.Token);
                }
                catch (SocketException)
                {
                    Close(client, server);
                    continue;
                }
                _open[client] = server;
                _ = PumpAsync(client, server);
                _ = PumpAsync(server, client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // stopped
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, _stop.Token)) > 0)
            {
                if (!_cut)
                {
                    await to.SendAsync(buffer.AsMemory(0, read), _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        Close(from, to);
    }

    private void Close(Socket a, Socket b)
    {
        _open.TryRemove(a, out _);
        _open.TryRemove(b, out _);
        a.Dispose();
        b.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Heal();
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}
