using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using PuppeteerSharp;

namespace ConsentService.Scans;

/// <summary>A cookie as the browser holds it at the end of a visit, with what set it when that is known.</summary>
public sealed record RawCookie(string Name, string Domain, string Path, DateTimeOffset? Expires, string? SetBy);

/// <summary>A request the page made (query dropped), and whether the address check stopped it.</summary>
public sealed record RawRequest(string Url, string Host, string Type, string? Initiator, bool Blocked);

/// <summary>What one page did in one fresh profile.</summary>
public sealed record RawVisit(
    ScanMode Mode, bool BannerFound, string? Error, IReadOnlyList<RawCookie> Cookies, IReadOnlyList<RawRequest> Requests,
    IReadOnlyList<string> LocalStorage, IReadOnlyList<string> SessionStorage, IReadOnlyList<string> ConsentMode, IReadOnlyList<string> Links);

/// <summary>
/// One headless Chromium (Debian's, never a download) for one scan. Each visit gets a fresh incognito
/// context, so the three profiles of a page share nothing. Network events come from a CDP session of
/// its own (initiators, Set-Cookie headers); a hook on <c>document.cookie</c> names the script that set a cookie.
/// </summary>
public sealed partial class BrowserProbe : IAsyncDisposable
{
    private readonly IBrowser _browser;
    private readonly ScanOptions _options;
    private readonly AddressGuard _guard;
    private readonly PinnedProxy _proxy;

    private BrowserProbe(IBrowser browser, ScanOptions options, AddressGuard guard, PinnedProxy proxy)
    {
        _browser = browser;
        _options = options;
        _guard = guard;
        _proxy = proxy;
    }

    public static async Task<BrowserProbe> LaunchAsync(ScanOptions options, AddressGuard guard, CancellationToken ct)
    {
        if (!File.Exists(options.ChromiumPath))
        {
            throw new ScanFailedException($"No browser at {options.ChromiumPath} (Scan:ChromiumPath): install Debian's 'chromium' package.");
        }
        List<string> args =
        [
            "--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-component-update", "--disable-sync", "--metrics-recording-only", "--mute-audio",
            // Every frame in the page's own renderer, so the page's request interception sees (and can refuse) iframe requests too.
            "--disable-features=IsolateOrigins,site-per-process",
            "--disable-site-isolation-trials",
        ];
        // Every connection through the pinned proxy, loopback included; the browser itself resolves no name (the proxy
        // does, through the guard, and Scan:HostMap there), and WebRTC sends nothing the proxy does not carry.
        var proxy = new PinnedProxy(guard, options.PageTimeout);
        args.AddRange([
            "--proxy-server=" + proxy.Server, "--proxy-bypass-list=<-loopback>",
            // Quoted: the launcher joins the arguments into one command line, and the rule contains spaces.
            "--host-resolver-rules=\"MAP * ~NOTFOUND , EXCLUDE 127.0.0.1\"",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        ]);
        var launching = Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = options.ChromiumPath,
            Headless = true,
            Args = [.. args],
            Timeout = 30_000,
        });
        try
        {
            return new BrowserProbe(await launching.WaitAsync(ct), options, guard, proxy);
        }
        catch (OperationCanceledException)
        {
            // Cancelled mid-launch: the browser still starts (within the launch timeout); close it before
            // answering, or it would outlive the scan, and the process if that is ending.
            try
            {
                await new BrowserProbe(await launching, options, guard, proxy).DisposeAsync();
            }
            catch (Exception e) when (e is PuppeteerException or InvalidOperationException)
            {
                // It never started: nothing to close but the proxy.
                await proxy.DisposeAsync();
            }
            throw;
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }
    }

    public async Task<RawVisit> VisitAsync(Uri url, ScanMode mode, CancellationToken ct)
    {
        var context = await _browser.CreateBrowserContextAsync();
        try
        {
            return await VisitAsync(context, url, mode, ct);
        }
        finally
        {
            try
            {
                await context.CloseAsync();
            }
            catch (PuppeteerException)
            {
                // The context went with a crashed or closing browser.
            }
        }
    }

    private async Task<RawVisit> VisitAsync(IBrowserContext context, Uri url, ScanMode mode, CancellationToken ct)
    {
        var page = await context.NewPageAsync();
        var requests = new ConcurrentDictionary<string, RawRequest>();
        var responseCookies = new ConcurrentDictionary<string, string>(); // cookie name → URL of the response that set it
        var urls = new ConcurrentDictionary<string, string>(); // CDP request id → URL
        var blocked = new ConcurrentDictionary<string, bool>();

        await page.SetRequestInterceptionAsync(true);
        page.AddRequestInterceptor(async request =>
        {
            var refusal = Uri.TryCreate(request.Url, UriKind.Absolute, out var target) ? await _guard.RefusalAsync(target, ct) : "Not a URL.";
            if (refusal is null)
            {
                await request.ContinueAsync(null, 0);
                return;
            }
            blocked[Strip(request.Url)] = true;
            await request.AbortAsync(RequestAbortErrorCode.AccessDenied, 0);
        });

        var cdp = await page.CreateCDPSessionAsync();
        cdp.MessageReceived += (_, e) =>
        {
            try
            {
                OnNetworkEvent(e.MessageID, e.MessageData, requests, urls, responseCookies);
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // A CDP event of an unexpected shape: one observation fewer, never a failed scan.
            }
        };
        await cdp.SendAsync("Network.enable");
        await page.EvaluateExpressionOnNewDocumentAsync(CookieHook);

        bool banner = false;
        string? error = null;
        try
        {
            await page.GoToAsync(url.ToString(), new NavigationOptions
            {
                Timeout = (int)_options.PageTimeout.TotalMilliseconds,
                WaitUntil = [WaitUntilNavigation.Load],
            }).WaitAsync(ct);
            await SettleAsync(ct);
            if (mode != ScanMode.NoDecision)
            {
                var action = mode == ScanMode.Accepted ? "accept_all" : "reject_all";
                banner = await ClickAsync(page, $"[data-consent-action={action}]", ct);
                if (!banner) error = $"The banner's '{action}' button ([data-consent-action={action}]) did not appear within {_options.BannerTimeout.TotalSeconds:0.#} s.";
                await SettleAsync(ct);
                // A second page view with the decision stored: what trackers do on the visitor's next page.
                await page.ReloadAsync((int)_options.PageTimeout.TotalMilliseconds, [WaitUntilNavigation.Load]).WaitAsync(ct);
                await SettleAsync(ct);
            }
            else
            {
                banner = await page.QuerySelectorAsync("[data-consent-banner]").WaitAsync(ct) is not null;
            }
        }
        catch (Exception e) when (e is PuppeteerException or TimeoutException)
        {
            error = $"The page did not load: {e.Message}";
        }

        var state = await ReadPageStateAsync(page, ct);
        var scriptCookies = await ReadScriptCookiesAsync(page, ct);
        var cookies = await ReadCookiesAsync(cdp, ct);
        var raw = cookies.Select(c => c with
        {
            SetBy = scriptCookies.GetValueOrDefault(c.Name) ?? responseCookies.GetValueOrDefault(c.Name),
        }).ToList();
        var seen = requests.Values.Select(r => blocked.ContainsKey(r.Url) ? r with { Blocked = true } : r).ToList();
        // A refused request may not reach the network events at all; it is reported all the same.
        seen.AddRange(blocked.Keys.Where(u => !requests.ContainsKey(u) && Uri.TryCreate(u, UriKind.Absolute, out _))
            .Select(u => new RawRequest(u, new Uri(u).Host, "other", null, Blocked: true)));
        return new RawVisit(mode, banner, error, raw, seen, state.Local, state.Session, state.ConsentMode, state.Links);
    }

    private Task SettleAsync(CancellationToken ct) =>
        // Real time on purpose: the browser's scripts run on the wall clock, not on the service's (faked in tests) one.
        Task.Delay(_options.Settle, TimeProvider.System, ct);

    private async Task<bool> ClickAsync(IPage page, string selector, CancellationToken ct)
    {
        try
        {
            var button = await page.WaitForSelectorAsync(selector, new WaitForSelectorOptions
            {
                Visible = true,
                Timeout = (int)Math.Max(1, _options.BannerTimeout.TotalMilliseconds),
            }).WaitAsync(ct);
            if (button is null) return false;
            await button.ClickAsync().WaitAsync(ct);
            return true;
        }
        catch (WaitTaskTimeoutException)
        {
            return false;
        }
    }

    private static void OnNetworkEvent(
        string method, JsonElement data, ConcurrentDictionary<string, RawRequest> requests,
        ConcurrentDictionary<string, string> urls, ConcurrentDictionary<string, string> responseCookies)
    {
        switch (method)
        {
            case "Network.requestWillBeSent":
            {
                var url = data.GetProperty("request").GetProperty("url").GetString()!;
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")) return;
                var stripped = Strip(url);
                urls[data.GetProperty("requestId").GetString()!] = stripped;
                var type = data.TryGetProperty("type", out var t) ? t.GetString()!.ToLowerInvariant() : "other";
                requests.TryAdd(stripped, new RawRequest(stripped, uri.Host, type, Initiator(data.GetProperty("initiator")), Blocked: false));
                break;
            }
            case "Network.responseReceivedExtraInfo":
            {
                if (!urls.TryGetValue(data.GetProperty("requestId").GetString()!, out var url)) return;
                foreach (var header in data.GetProperty("headers").EnumerateObject())
                {
                    if (!header.Name.Equals("set-cookie", StringComparison.OrdinalIgnoreCase)) continue;
                    foreach (var line in header.Value.GetString()!.Split('\n'))
                    {
                        var eq = line.IndexOf('=', StringComparison.Ordinal);
                        if (eq > 0) responseCookies[line[..eq].Trim()] = url;
                    }
                }
                break;
            }
        }
    }

    /// <summary>The script or document that caused a request: the initiator's URL, else the top of its stack.</summary>
    private static string? Initiator(JsonElement initiator)
    {
        if (initiator.TryGetProperty("url", out var url) && url.GetString() is { Length: > 0 } u) return Strip(u);
        if (!initiator.TryGetProperty("stack", out var stack)) return null;
        for (JsonElement? s = stack; s is { } frame; s = frame.TryGetProperty("parent", out var parent) ? parent : null)
        {
            foreach (var call in frame.GetProperty("callFrames").EnumerateArray())
            {
                if (call.GetProperty("url").GetString() is { Length: > 0 } at) return Strip(at);
            }
        }
        return null;
    }

    private static async Task<List<RawCookie>> ReadCookiesAsync(ICDPSession cdp, CancellationToken ct)
    {
        // Network.getAllCookies: every cookie of the context, third-party ones (iframes, beacons) included.
        var reply = await cdp.SendAsync("Network.getAllCookies").WaitAsync(ct);
        var list = new List<RawCookie>();
        if (reply is not { } r || !r.TryGetProperty("cookies", out var cookies)) return list;
        foreach (var c in cookies.EnumerateArray())
        {
            var expires = c.GetProperty("expires").GetDouble();
            var session = c.TryGetProperty("session", out var s) && s.GetBoolean();
            list.Add(new RawCookie(c.GetProperty("name").GetString()!, c.GetProperty("domain").GetString()!, c.GetProperty("path").GetString()!,
                session || expires <= 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)(expires * 1000)), null));
        }
        return list;
    }

    private sealed record PageState(List<string> Local, List<string> Session, List<string> ConsentMode, List<string> Links);

    private static async Task<PageState> ReadPageStateAsync(IPage page, CancellationToken ct)
    {
        try
        {
            var json = await page.EvaluateExpressionAsync<string>(StateScript).WaitAsync(ct);
            return JsonSerializer.Deserialize<PageState>(json, StateJson) ?? new([], [], [], []);
        }
        catch (Exception e) when (e is PuppeteerException or JsonException)
        {
            return new([], [], [], []);
        }
    }

    /// <summary>Cookie name → the script that last wrote it through <c>document.cookie</c>, from every frame.</summary>
    private static async Task<Dictionary<string, string>> ReadScriptCookiesAsync(IPage page, CancellationToken ct)
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var frame in page.Frames)
        {
            try
            {
                var json = await frame.EvaluateExpressionAsync<string>("JSON.stringify(window.__csScanCookies || [])").WaitAsync(ct);
                foreach (var entry in JsonSerializer.Deserialize<string[][]>(json) ?? [])
                {
                    if (entry is [var name, var script]) found[name] = Strip(script);
                }
            }
            catch (Exception e) when (e is PuppeteerException or JsonException)
            {
                // A frame that navigated away or closed: its writes are not attributed.
            }
        }
        return found;
    }

    /// <summary>Without query and fragment: they carry identifiers, and the report needs the endpoint, not the visitor.</summary>
    public static string Strip(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u.GetLeftPart(UriPartial.Path) : url;

    private static readonly JsonSerializerOptions StateJson = new(JsonSerializerDefaults.Web);

    /// <summary>Records which script writes each cookie: the first http(s) frame of the writer's stack.</summary>
    private const string CookieHook = """
        (() => {
          const d = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
          if (!d || !d.set) return;
          const log = window.__csScanCookies = [];
          Object.defineProperty(Document.prototype, 'cookie', {
            configurable: true, enumerable: d.enumerable, get: d.get,
            set(value) {
              try {
                const name = String(value).split('=')[0].trim();
                const m = String(new Error().stack).match(/(https?:\/\/[^\s)]+?):\d+:\d+/);
                log.push([name, m ? m[1] : location.href]);
              } catch (e) {}
              return d.set.call(this, value);
            },
          });
        })();
        """;

    private const string StateScript = """
        JSON.stringify({
          local: (() => { try { return Object.keys(localStorage); } catch (e) { return []; } })(),
          session: (() => { try { return Object.keys(sessionStorage); } catch (e) { return []; } })(),
          consentMode: Array.from(window.dataLayer || []).filter(e => e && e[0] === 'consent')
            .map(e => String(e[1]) + ' ' + JSON.stringify(e[2] || {})),
          links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href).filter(h => /^https?:/.test(h)),
        })
        """;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _browser.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is PuppeteerException or TimeoutException or ObjectDisposedException)
        {
            // Already gone, or not answering (it crashed, or the scan was cancelled mid-command): killed below.
        }
        try
        {
            // Never leave a browser behind: a stuck close would leak a Chromium per scan.
            if (_browser.Process is { HasExited: false } process) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // It exited between the check and the kill.
        }
        _browser.Dispose();
        await _proxy.DisposeAsync();
    }
}

/// <summary>A scan that cannot run at all (no browser); its message is shown as the scan's error.</summary>
public sealed class ScanFailedException(string message) : Exception(message);
