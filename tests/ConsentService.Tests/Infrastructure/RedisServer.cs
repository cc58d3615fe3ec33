using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace ConsentService.Tests.Infrastructure;

/// <summary>
/// Real Redis for the cache tests. <see cref="Shared"/> is the server test.sh starts on loopback
/// (<c>CONSENT_TEST_REDIS</c>); a test that stops and restarts Redis starts its own with <see cref="StartAsync"/>.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    public const string Variable = "CONSENT_TEST_REDIS";

    /// <summary>host:port of the shared server, or null (tests needing it then show as skipped).</summary>
    public static string? Shared => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } address ? address : null;

    public static string SkipReason => $"{Variable} is not set; ./test.sh starts a redis-server and sets it.";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "consent-redis", Guid.NewGuid().ToString("N"));
    private Process? _process;

    public int Port { get; } = FreePort();

    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Starts (or restarts) a private redis-server; it keeps its data in a dump file across restarts.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer();
        await server.StartAsync(default);
        return server;
    }

    public async Task StartAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(_directory);
        _process = Process.Start(new ProcessStartInfo("redis-server",
            ["--bind", "127.0.0.1", "--port", Port.ToString(), "--save", "", "--appendonly", "no", "--dir", _directory, "--dbfilename", "dump.rdb"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, Port, ct);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, ct);
            }
        }
        throw new InvalidOperationException($"redis-server did not listen on {Address}");
    }

    /// <summary>SHUTDOWN SAVE: what the server held comes back when it restarts, stale entries included.</summary>
    public async Task StopAsync()
    {
        using (var admin = await ConnectionMultiplexer.ConnectAsync($"{Address},allowAdmin=true"))
        {
            try
            {
                admin.GetServer(Address).Shutdown(ShutdownMode.Always);
            }
            catch (RedisConnectionException)
            {
                // The server hangs up as it exits.
            }
        }
        await _process!.WaitForExitAsync();
    }

    public static bool IsInstalled =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "redis-server")));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
