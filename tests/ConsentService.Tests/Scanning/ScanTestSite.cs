using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ConsentService.Tests.Scanning;

/// <summary>
/// A small web site on real Kestrel (loopback, a port of its own). The browser reaches it under several
/// host names (site.test, analytics.test, tags.test, video.test) mapped to its address, so one server
/// plays the site and its third parties. Every request is counted by host and path.
/// </summary>
public sealed class ScanTestSite : IAsyncDisposable
{
    private readonly WebApplication _app;

    public ConcurrentDictionary<string, int> Hits { get; } = new(StringComparer.Ordinal);

    public int Port { get; }

    private ScanTestSite(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public string Origin(string host) => $"http://{host}:{Port}";

    /// <summary>Starts the site on <paramref name="address"/>; <paramref name="pages"/> maps a path to a page made from the port.</summary>
    public static async Task<ScanTestSite> StartAsync(Func<int, IReadOnlyDictionary<string, string>> pages, string address = "127.0.0.1")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Parse(address), 0));
        var app = builder.Build();
        ScanTestSite? site = null;
        app.Run(async context =>
        {
            var host = context.Request.Host.Host;
            var path = context.Request.Path.Value ?? "/";
            site!.Hits.AddOrUpdate($"{host}{path}", 1, (_, n) => n + 1);
            if (path == "/slow")
            {
                // A page that never finishes loading within a test: what a scan is cancelled or stopped on.
                await Task.Delay(TimeSpan.FromSeconds(60), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }
            var content = site.Pages.GetValueOrDefault(path);
            if (content is null)
            {
                context.Response.StatusCode = 204; // beacons, pixels, favicon
                return;
            }
            context.Response.ContentType = path.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript" : "text/html; charset=utf-8";
            await context.Response.WriteAsync(content);
        });
        await app.StartAsync();
        var port = new Uri(app.Urls.First()).Port;
        site = new ScanTestSite(app, port) { _pages = new Lazy<IReadOnlyDictionary<string, string>>(() => pages(port)) };
        return site;
    }

    /// <summary>Made at the first request: a page may name ids (the site's) known only after the server started.</summary>
    private Lazy<IReadOnlyDictionary<string, string>> _pages = new(() => new Dictionary<string, string>());

    private IReadOnlyDictionary<string, string> Pages => _pages.Value;

    public int HitsOf(string hostAndPath) => Hits.GetValueOrDefault(hostAndPath);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
