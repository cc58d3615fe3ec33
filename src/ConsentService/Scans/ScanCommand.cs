using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Scans.Catalogue;
using Microsoft.Extensions.Options;

namespace ConsentService.Scans;

/// <summary>
/// <c>dotnet run --project src/ConsentService -- scan …</c>: a scan from the command line, through a running
/// service's API (<c>--api</c>) or standalone (the browser runs here). Progress goes to stderr: a bar on a
/// terminal, plain lines otherwise; the report goes to stdout or <c>--out</c>.
/// Exit codes: 0 no violation, 3 violations found, 1 the scan failed, 2 bad usage.
/// </summary>
public static class ScanCommand
{
    public const string Usage = """
        Usage: scan [options] URL...            scan the listed pages
               scan [options] --start URL       scan URL and the same-site pages it links to
        Options:
          --api URL         a running ConsentService (else standalone: Chromium runs on this machine)
          --site ID         the site to scan for (with --api)
          --key KEY         an admin key of the site (or the CONSENT_API_KEY environment variable)
          --pages N         page limit with --start (default 10)
          --policy FILE     standalone: the policy (JSON, as published) to match against; default: the built-in template
          --format F        json, csv or html (default: from --out's extension, else json)
          --out FILE        write the report to FILE (default: standard output)
          --chromium PATH   standalone: the browser (default /usr/bin/chromium)
          --allow-private   standalone: let the browser reach loopback and private addresses
        Exit codes: 0 no violation, 3 violations found, 1 the scan failed, 2 bad usage.
        """;

    private sealed record Arguments(
        List<string> Urls, string? Start, int Pages, string? Api, string? Site, string? Key, string? Policy,
        string Format, string? Out, string Chromium, bool AllowPrivate);

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (Parse(args, error) is not { } a) return 2;
        var progress = new Progress(error, interactive: !Console.IsErrorRedirected && ReferenceEquals(error, Console.Error));
        try
        {
            var (scan, report) = a.Api is null ? await StandaloneAsync(a, progress, ct) : await ThroughApiAsync(a, progress, ct);
            progress.Done(scan);
            if (report is null)
            {
                await error.WriteLineAsync($"scan: {JsonDefaults.Name(scan.Status)}{(scan.Error is { } e ? ": " + e : "")}");
                return 1;
            }
            var text = a.Format switch
            {
                "csv" => ScanReportFormats.Csv(report),
                "html" => ScanReportFormats.Html(scan, report).Html,
                _ => JsonSerializer.Serialize(report, Indented),
            };
            if (a.Out is { } path) await File.WriteAllTextAsync(path, text, ct);
            else await output.WriteAsync(text);
            await error.WriteLineAsync($"scan: {report.Pages.Count} page(s), {report.Violations.Count} violation(s), {report.Undeclared.Count} undeclared vendor(s), {report.DeclaredButUnseen.Count} declared but never seen");
            return report.Violations.Count > 0 ? 3 : 0;
        }
        catch (Exception e) when (e is HttpRequestException or ScanFailedException or IOException or JsonException or InvalidOperationException)
        {
            await error.WriteLineAsync("scan: " + e.Message);
            return 1;
        }
    }

    private static readonly JsonSerializerOptions Indented = new(JsonDefaults.Options) { WriteIndented = true };

    private static async Task<(Scan, ScanReport?)> ThroughApiAsync(Arguments a, Progress progress, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = new Uri(a.Api!.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", a.Key);
        object body = a.Start is null ? new { urls = a.Urls } : new { startUrl = a.Start, pageLimit = a.Pages };
        using var started = await http.PostAsJsonAsync($"v1/sites/{Uri.EscapeDataString(a.Site!)}/scans", body, JsonDefaults.Options, ct);
        if (!started.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"the service refused the scan ({(int)started.StatusCode}): {await started.Content.ReadAsStringAsync(ct)}");
        }
        var location = started.Headers.Location!.ToString().TrimStart('/');
        try
        {
            while (true)
            {
                var scan = (await http.GetFromJsonAsync<Scan>(location, JsonDefaults.Options, ct))!;
                progress.Show(scan);
                if (scan.IsFinished) return (scan, scan.Report);
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: the scan on the service stops too.
            using var cancel = await http.PostAsync(location + "/cancel", null, CancellationToken.None);
            throw;
        }
    }

    private static async Task<(Scan, ScanReport?)> StandaloneAsync(Arguments a, Progress progress, CancellationToken ct)
    {
        var options = new ScanOptions { ChromiumPath = a.Chromium, AllowPrivateNetworks = a.AllowPrivate };
        var guard = new AddressGuard(Options.Create(options));
        foreach (var url in a.Start is { } s ? [s] : a.Urls)
        {
            if (await guard.RefusalAsync(new Uri(url), ct) is { } refusal) throw new ScanFailedException($"{url}: {refusal} (--allow-private lets it through)");
        }
        var now = TimeProvider.System.GetUtcNow();
        PolicyContent content = DefaultPolicy.Content;
        if (a.Policy is { } file)
        {
            var request = JsonSerializer.Deserialize<PublishPolicyRequest>(await File.ReadAllTextAsync(file, ct), JsonDefaults.Options)!;
            content = new PolicyContent(request.Purposes, request.Texts, request.PrivacyPolicyUrl);
        }
        var policy = new Policy("standalone", 1, now, PolicyCatalog.ContentHash(content), false, content);
        var scan = new Scan("standalone", "standalone", ScanStatus.Running, now, a.Urls, a.Start, a.Start is null ? a.Urls.Count : a.Pages, 0, now);
        var pages = new List<(string Url, IReadOnlyList<RawVisit> Visits)>();
        await using (var probe = await BrowserProbe.LaunchAsync(options, guard, ct))
        {
            await PageWalk.RunAsync(probe, a.Urls, a.Start, scan.PageLimit, pages, url =>
            {
                scan = scan with { CurrentUrl = url, PagesDone = pages.Count };
                progress.Show(scan);
                return Task.CompletedTask;
            }, ct);
        }
        var report = new ScanAnalyzer(CookieCatalogue.LoadEmbedded()).Analyze("standalone", policy, pages, TimeProvider.System.GetUtcNow());
        return (scan with { Status = ScanStatus.Completed, PagesDone = pages.Count, CurrentUrl = null, FinishedAt = report.GeneratedAt, Report = report }, report);
    }

    private static Arguments? Parse(string[] args, TextWriter error)
    {
        var urls = new List<string>();
        string? start = null, api = null, site = null, key = Environment.GetEnvironmentVariable("CONSENT_API_KEY"), policy = null, format = null, output = null;
        var chromium = "/usr/bin/chromium";
        var pages = 10;
        var allowPrivate = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                switch (args[i])
                {
                    case "--start": start = Next(); break;
                    case "--pages": pages = int.TryParse(Next(), out var n) && n is >= 1 and <= ScanRules.MaxPages ? n : throw new ArgumentException($"--pages takes 1 to {ScanRules.MaxPages}."); break;
                    case "--api": api = Next(); break;
                    case "--site": site = Next(); break;
                    case "--key": key = Next(); break;
                    case "--policy": policy = Next(); break;
                    case "--format": format = Next(); break;
                    case "--out": output = Next(); break;
                    case "--chromium": chromium = Next(); break;
                    case "--allow-private": allowPrivate = true; break;
                    case "-h" or "--help": error.WriteLine(Usage); return null;
                    default:
                        if (args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"Unknown option {args[i]}.");
                        urls.Add(args[i]);
                        break;
                }
            }
            catch (ArgumentException e)
            {
                error.WriteLine("scan: " + e.Message);
                error.WriteLine(Usage);
                return null;
            }
        }
        var extension = Path.GetExtension(output ?? "").TrimStart('.');
        format ??= extension is "csv" or "html" ? extension : "json";
        string? problem =
            (urls.Count == 0) == (start is null) ? "Give page URLs or --start URL (not both)."
            : urls.Concat(start is null ? [] : [start]).FirstOrDefault(u => !Uri.TryCreate(u, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")) is { } bad ? $"'{bad}' is not an absolute http(s) URL."
            : api is not null && (site is null || string.IsNullOrEmpty(key)) ? "--api needs --site and --key (or CONSENT_API_KEY)."
            : format is not ("json" or "csv" or "html") ? "--format is json, csv or html."
            : null;
        if (problem is not null)
        {
            error.WriteLine("scan: " + problem);
            error.WriteLine(Usage);
            return null;
        }
        return new Arguments(urls, start, pages, api, site, key, policy, format, output, chromium, allowPrivate);
    }

    /// <summary>A bar redrawn in place on a terminal; one line per page when stderr is a file or a pipe.</summary>
    private sealed class Progress(TextWriter error, bool interactive)
    {
        private string? _last;

        public void Show(Scan scan)
        {
            var line = Describe(scan);
            if (line == _last) return;
            _last = line;
            if (interactive)
            {
                const int width = 30;
                var filled = scan.PageLimit == 0 ? 0 : Math.Min(width, width * scan.PagesDone / scan.PageLimit);
                var bar = $"\r[{new string('#', filled)}{new string('.', width - filled)}] {line}";
                error.Write(bar.Length > 120 ? bar[..120] : bar.PadRight(120));
            }
            else
            {
                error.WriteLine("scan: " + line);
            }
        }

        public void Done(Scan scan)
        {
            Show(scan);
            if (interactive) error.WriteLine();
        }

        private static string Describe(Scan scan) =>
            $"{JsonDefaults.Name(scan.Status)} {scan.PagesDone}/{scan.PageLimit} page(s){(scan.CurrentUrl is { } url ? " " + url : "")}";
    }
}
