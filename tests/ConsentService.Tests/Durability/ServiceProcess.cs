using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ConsentService.Tests.Durability;

/// <summary>
/// The real service as a separate process (<c>dotnet ConsentService.dll</c> from the test output
/// folder) on a free loopback port, so a test can kill it as an operating system would.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    public const string OperatorKey = "cso_durability-tests-0123456789abcdef";

    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private ServiceProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>What the process wrote so far, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>Starts the service on <paramref name="dataDirectory"/> and waits (generously) until <c>/health/ready</c> answers 200.</summary>
    public static async Task<ServiceProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var folder = AppContext.BaseDirectory;
        var address = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(folder, "ConsentService.dll"), "--urls", address.ToString(), "--contentRoot", folder })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Admin__ApiKey"] = OperatorKey;
        start.Environment["Storage__DataDirectory"] = dataDirectory;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        // All load comes from one address: lift the rate limits (they stay in the pipeline) rather than test them here.
        foreach (var bucket in new[] { "PublicWrites", "PublicReads", "PerClient", "Checks", "Keys" })
        {
            start.Environment[$"RateLimits__{bucket}__PermitLimit"] = "100000000";
        }
        start.Environment.Remove("ConnectionStrings__Redis");
        start.Environment.Remove("ConnectionStrings__Mongo");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var service = new ServiceProcess(Process.Start(start)!, address);
        service._process.OutputDataReceived += (_, e) => service.Append(e.Data);
        service._process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();

        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90); // a loaded 2-core build machine can be slow to start .NET
        while (true)
        {
            if (service._process.HasExited)
            {
                throw new InvalidOperationException($"The service exited with {service._process.ExitCode}:\n{service.Log}");
            }
            try
            {
                using var ready = await client.GetAsync("/health/ready");
                if (ready.StatusCode == HttpStatusCode.OK) return service;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }
            if (DateTime.UtcNow > deadline)
            {
                await service.DisposeAsync();
                throw new TimeoutException($"The service did not become ready within 90 s:\n{service.Log}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.AppendLine(line);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
