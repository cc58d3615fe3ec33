using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Scanning;

/// <summary>
/// The tracker scan end to end: Debian's Chromium visits a site served on loopback under several host
/// names, and the report is read through the API as an admin would.
/// </summary>
public sealed class ScanTests
{
    private static readonly string[] Hosts = ["site.test", "analytics.test", "tags.test", "video.test", "consent.test"];

    private static ConsentApiFactory NewService(bool allowPrivate = true, IReadOnlyDictionary<string, string>? more = null, string? dataDirectory = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Scan:Settle"] = "00:00:00.600",
            ["Scan:BannerTimeout"] = "00:00:05",
            ["Scan:PageTimeout"] = "00:00:10",
            ["Scan:AllowPrivateNetworks"] = allowPrivate ? "true" : "false",
        };
        foreach (var host in Hosts) settings[$"Scan:HostMap:{host}"] = "127.0.0.1";
        foreach (var (k, v) in more ?? new Dictionary<string, string>()) settings[k] = v;
        var factory = dataDirectory is null
            ? new ConsentApiFactory { Settings = settings }
            : new ConsentApiFactory { Settings = settings, DataDirectory = dataDirectory, KeepDataDirectory = true };
        factory.UseKestrel(0);
        factory.StartServer();
        return factory;
    }

    /// <summary>
    /// The shop: a snippet of the service; an analytics script that sets _ga and beacons at once (the
    /// violation); PostHog gated by analytics (compliant); a marketing tag of an undeclared vendor
    /// (Facebook's _fbp); a gated video iframe of a declared vendor; and Hotjar declared but absent.
    /// </summary>
    private static Func<int, IReadOnlyDictionary<string, string>> Shop(string siteId, int servicePort) => port => new Dictionary<string, string>
    {
        ["/"] = $"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
            <script src="http://consent.test:{servicePort}/v1/sites/{siteId}/consent.js" async></script>
            <script src="http://analytics.test:{port}/ga.js"></script>
            <script type="text/plain" data-consent="analytics" src="/ph.js"></script>
            <script type="text/plain" data-consent="marketing" src="http://tags.test:{port}/fb.js"></script>
            </head><body><h1>Shop</h1>
            <iframe data-consent="marketing" data-src="http://video.test:{port}/embed" title="Video"></iframe>
            <a href="/about">About</a>
            </body></html>
            """,
        ["/ga.js"] = $"document.cookie = '_ga=GA1.1.1234.5678; path=/; max-age=3600';\nfetch('http://analytics.test:{port}/collect?cid=1234.5678', {{ mode: 'no-cors' }});",
        ["/ph.js"] = "document.cookie = 'ph_phc123_posthog=%7B%7D; path=/; max-age=3600';",
        ["/fb.js"] = $"document.cookie = '_fbp=fb.1.1234.5678; path=/; max-age=3600';\nfetch('http://tags.test:{port}/tr?id=1', {{ mode: 'no-cors' }});",
        ["/embed"] = "<!doctype html><title>Video</title><p>A video</p>",
        ["/about"] = "<!doctype html><title>About</title><p>About us</p>",
    };

    private static object ShopPolicy() => new
    {
        purposes = new object[]
        {
            new { id = "necessary", required = true, legalBasis = "legitimate_interest", vendors = new object[] { new { name = "ConsentService", cookies = new[] { "consent_*" } } } },
            new
            {
                id = "analytics", required = false, legalBasis = "consent", vendors = new object[]
                {
                    new { name = "Google Analytics", privacyPolicyUrl = "https://policies.google.com/privacy", cookies = new[] { "_ga", "_ga_*" } },
                    new { name = "PostHog", privacyPolicyUrl = "https://posthog.com/privacy", cookies = new[] { "ph_*_posthog" } },
                },
            },
            new
            {
                id = "marketing", required = false, legalBasis = "consent", vendors = new object[]
                {
                    new { name = "VideoHost", privacyPolicyUrl = "http://video.test/privacy", cookies = Array.Empty<string>() },
                    new { name = "Hotjar", privacyPolicyUrl = "https://www.hotjar.com/legal/policies/privacy/", cookies = new[] { "_hjSessionUser_*" } },
                },
            },
        },
        texts = new Dictionary<string, object>
        {
            ["en"] = new
            {
                title = "Cookies", description = "We use cookies.", acceptAll = "Accept all", rejectAll = "Reject all", preferences = "Preferences", save = "Save",
                purposes = new Dictionary<string, object>
                {
                    ["necessary"] = new { title = "Necessary", description = "Needed." },
                    ["analytics"] = new { title = "Analytics", description = "Measures use." },
                    ["marketing"] = new { title = "Marketing", description = "Ads and embeds." },
                },
            },
        },
    };

    private static async Task<TestSite> ShopSiteAsync(ConsentApiFactory service, int sitePort)
    {
        var site = await service.CreateSiteAsync(new { name = "Scan shop", allowedOrigins = new[] { $"http://site.test:{sitePort}" } });
        using var admin = service.ClientWithKey(site.AdminKey);
        await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", ShopPolicy()), HttpStatusCode.Created);
        return site;
    }

    private static async Task<JsonObject> WaitForAsync(HttpClient admin, string location, Func<JsonObject, bool> done, int seconds = 40)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); ;)
        {
            var scan = await ReadJsonAsync(await admin.GetAsync(location));
            if (done(scan)) return scan;
            Assert.True(DateTime.UtcNow < deadline, $"The scan did not get there in {seconds} s: {scan.ToJsonString()[..Math.Min(600, scan.ToJsonString().Length)]}");
            await Task.Delay(150);
        }
    }

    private static bool Finished(JsonObject scan) => scan["status"]!.GetValue<string>() is not ("queued" or "running");

    private static string[] Strings(JsonNode? array) => [.. array!.AsArray().Select(n => n!.GetValue<string>())];

    [Fact]
    public async Task A_scan_flags_exactly_the_violation_the_undeclared_vendor_and_the_unseen_one_and_its_suggested_policy_publishes()
    {
        using var service = NewService();
        var servicePort = service.CreateClient().BaseAddress!.Port;
        TestSite? site = null;
        await using var shop = await ScanTestSite.StartAsync(port => Shop(site!.Id, servicePort)(port));
        site = await ShopSiteAsync(service, shop.Port);
        using var admin = service.ClientWithKey(site.AdminKey);

        var started = await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/scans", new { urls = new[] { shop.Origin("site.test") + "/" } });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var location = started.Headers.Location!.ToString();
        var scan = await WaitForAsync(admin, location, Finished);
        Assert.True(scan["status"]!.GetValue<string>() == "completed", scan["error"]?.ToString());
        Assert.Equal(1, scan["pagesDone"]!.GetValue<int>());

        var report = await ReadJsonAsync(await admin.GetAsync(location + "/report?format=json"));
        var visits = report["visits"]!.AsArray();
        Assert.Equal(["no_decision", "rejected", "accepted"], visits.Select(v => v!["mode"]!.GetValue<string>()));
        Assert.All(visits, v => Assert.Null(v!["error"]));

        // Exactly one violation: Google Analytics' cookie and beacons before a decision and after Reject all.
        var violation = Assert.Single(report["violations"]!.AsArray())!;
        Assert.Equal("Google Analytics", violation["vendor"]!.GetValue<string>());
        Assert.Equal("analytics", violation["purpose"]!.GetValue<string>());
        Assert.Equal(["no_decision", "rejected"], Strings(violation["modes"]));
        Assert.Equal(["_ga"], Strings(violation["cookies"]));
        Assert.Equal(["analytics.test"], Strings(violation["hosts"]));

        // Exactly one undeclared vendor, named by the catalogue: the marketing tag's _fbp and its host.
        var undeclared = Assert.Single(report["undeclared"]!.AsArray())!;
        Assert.Equal("Facebook", undeclared["vendor"]!.GetValue<string>());
        Assert.Equal("Marketing", undeclared["category"]!.GetValue<string>());
        Assert.Equal("marketing", undeclared["suggestedPurpose"]!.GetValue<string>());
        Assert.Equal(["_fbp"], Strings(undeclared["cookies"]));
        Assert.Equal(["tags.test"], Strings(undeclared["hosts"]));

        // Exactly one declared vendor never seen: Hotjar. VideoHost was seen (the iframe after Accept all), PostHog too.
        var unseen = Assert.Single(report["declaredButUnseen"]!.AsArray())!;
        Assert.Equal("Hotjar", unseen["vendor"]!.GetValue<string>());

        // What was recorded, profile by profile.
        JsonArray Cookies(int visit) => visits[visit]!["cookies"]!.AsArray();
        JsonArray Requests(int visit) => visits[visit]!["requests"]!.AsArray();
        var ga = Cookies(0).Single(c => c!["name"]!.GetValue<string>() == "_ga")!;
        Assert.Equal(shop.Origin("analytics.test") + "/ga.js", ga["setBy"]!.GetValue<string>());
        Assert.False(ga["thirdParty"]!.GetValue<bool>());
        var beacon = Requests(0).Single(r => r!["url"]!.GetValue<string>() == shop.Origin("analytics.test") + "/collect")!;
        Assert.Equal(shop.Origin("analytics.test") + "/ga.js", beacon["initiator"]!.GetValue<string>());
        Assert.True(beacon["thirdParty"]!.GetValue<bool>());
        Assert.DoesNotContain(Cookies(0).Concat(Cookies(1)), c => c!["name"]!.GetValue<string>() is "_fbp" or "ph_phc123_posthog");
        Assert.DoesNotContain(Requests(1), r => r!["host"]!.GetValue<string>() is "tags.test" or "video.test");
        Assert.Contains(Cookies(2), c => c!["name"]!.GetValue<string>() == "ph_phc123_posthog" && c["vendor"]!.GetValue<string>() == "PostHog");
        Assert.Contains(Requests(2), r => r!["host"]!.GetValue<string>() == "video.test" && r["type"]!.GetValue<string>() == "document" && r["vendor"]!.GetValue<string>() == "VideoHost");
        Assert.Contains(Cookies(1), c => c!["name"]!.GetValue<string>().StartsWith("consent_", StringComparison.Ordinal) && c["vendor"]!.GetValue<string>() == "ConsentService");
        Assert.Contains(visits[0]!["consentMode"]!.AsArray(), m => m!.GetValue<string>().StartsWith("default ", StringComparison.Ordinal));
        // The marketing tag really ran (the server saw it), and only in the Accept all profile (the report's other visits lack it).
        Assert.True(shop.HitsOf("tags.test/tr") >= 1);
        Assert.DoesNotContain(Requests(0), r => r!["host"]!.GetValue<string>() is "tags.test" or "video.test");

        // The suggested policy is a valid version: it publishes as it is.
        var suggested = report["suggestedPolicy"]!.AsObject();
        var marketing = suggested["purposes"]!.AsArray().Single(p => p!["id"]!.GetValue<string>() == "marketing")!;
        var facebook = marketing["vendors"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "Facebook")!;
        Assert.Equal(["_fbp"], Strings(facebook["cookies"]));
        var published = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", suggested), HttpStatusCode.Created);
        Assert.Equal(3, published["version"]!.GetValue<int>()); // 1: the template the site started with, 2: the shop policy

        // The same report as CSV and as a standalone page that runs no script.
        var csv = await admin.GetAsync(location + "/report?format=csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
        var rows = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(rows, r => r.StartsWith(shop.Origin("site.test") + "/,no_decision,cookie,_ga,", StringComparison.Ordinal) && r.EndsWith(",violation", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains(",accepted,cookie,_fbp,", StringComparison.Ordinal) && r.EndsWith(",undeclared", StringComparison.Ordinal));
        var html = await admin.GetAsync(location + "/report?format=html");
        Assert.Equal("text/html", html.Content.Headers.ContentType!.MediaType);
        var csp = html.Headers.GetValues("Content-Security-Policy").Single();
        Assert.StartsWith("default-src 'none'; style-src 'sha256-", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("script", csp, StringComparison.Ordinal);
        var page = await html.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script", page, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Google Analytics", page, StringComparison.Ordinal);
        var style = System.Text.RegularExpressions.Regex.Match(page, "<style>(.*?)</style>", System.Text.RegularExpressions.RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains(Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(style))), csp, StringComparison.Ordinal);

        var list = await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/scans"));
        Assert.Equal(scan["id"]!.GetValue<string>(), Assert.Single(list)!["id"]!.GetValue<string>());
        if (Environment.GetEnvironmentVariable("SCAN_REPORT_OUT") is { Length: > 0 } output) await File.WriteAllTextAsync(output, page);
    }

    [Fact]
    public async Task A_queued_scan_is_cancelled_at_once_and_a_running_one_stops_within_seconds()
    {
        using var service = NewService();
        await using var web = await ScanTestSite.StartAsync(_ => new Dictionary<string, string>());
        var site = await service.CreateSiteAsync();
        using var admin = service.ClientWithKey(site.AdminKey);
        var slow = new { urls = new[] { web.Origin("site.test") + "/slow" } };

        var running = (await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/scans", slow)).Headers.Location!.ToString();
        await WaitForAsync(admin, running, s => s["currentUrl"] is not null, 20);
        var queued = (await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/scans", slow)).Headers.Location!.ToString();
        Assert.Equal("queued", (await ReadJsonAsync(await admin.GetAsync(queued)))["status"]!.GetValue<string>());
        await AssertProblemAsync(await admin.GetAsync(running + "/report"), HttpStatusCode.Conflict, "scan-not-ready");

        var cancelled = await admin.PostAsync(queued + "/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, cancelled.StatusCode);
        Assert.Equal("cancelled", (await ReadJsonAsync(cancelled, HttpStatusCode.Accepted))["status"]!.GetValue<string>());
        var never = await ReadJsonAsync(await admin.GetAsync(queued));
        Assert.Equal("cancelled", never["status"]!.GetValue<string>());
        Assert.Null(never["startedAt"]);

        var started = DateTime.UtcNow;
        Assert.Equal(HttpStatusCode.Accepted, (await admin.DeleteAsync(running)).StatusCode);
        var stopped = await WaitForAsync(admin, running, Finished, 15);
        Assert.Equal("cancelled", stopped["status"]!.GetValue<string>());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(8), "a cancelled scan stops without waiting for the page's timeout");
        Assert.Equal(0, stopped["pagesDone"]!.GetValue<int>());

        // Cancelling a finished scan changes nothing; an unknown scan is not found.
        Assert.Equal("cancelled", (await ReadJsonAsync(await admin.DeleteAsync(running), HttpStatusCode.Accepted))["status"]!.GetValue<string>());
        await AssertProblemAsync(await admin.DeleteAsync($"/v1/sites/{site.Id}/scans/scn_unknown"), HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task A_scan_running_when_the_service_stops_or_dies_is_interrupted_after_the_restart()
    {
        var folder = ConsentApiFactory.NewDataDirectory();
        try
        {
            await using var web = await ScanTestSite.StartAsync(_ => new Dictionary<string, string>());
            string siteId, adminKey, location;
            string databasePath;
            using (var first = NewService(dataDirectory: folder))
            {
                var site = await first.CreateSiteAsync();
                (siteId, adminKey) = (site.Id, site.AdminKey);
                using var admin = first.ClientWithKey(adminKey);
                location = (await admin.PostAsJsonAsync($"/v1/sites/{siteId}/scans", new { urls = new[] { web.Origin("site.test") + "/slow" } })).Headers.Location!.ToString();
                await WaitForAsync(admin, location, s => s["currentUrl"] is not null, 20);
                databasePath = first.DatabasePath;
            } // a graceful stop: the scan is saved as interrupted on the way out

            Assert.Equal("interrupted", await ScanStatusInDatabaseAsync(databasePath));
            // A process killed mid-scan leaves its scan "running": start-up must end it, or nothing ever would.
            await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={databasePath};Pooling=False"))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = "UPDATE scans SET status = 'running', document = json_set(document, '$.status', 'running', '$.finishedAt', NULL, '$.error', NULL)";
                Assert.Equal(1, await command.ExecuteNonQueryAsync());
            }

            using var second = NewService(dataDirectory: folder);
            using var again = second.ClientWithKey(adminKey);
            var scan = await WaitForAsync(again, location, Finished, 10);
            Assert.Equal("interrupted", scan["status"]!.GetValue<string>());
            Assert.Contains("stopped", scan["error"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.NotNull(scan["finishedAt"]);
            // The instance scans again after the sweep: a new scan is not swept with the old one.
            var next = await again.PostAsJsonAsync($"/v1/sites/{siteId}/scans", new { urls = new[] { web.Origin("site.test") + "/slow" } });
            Assert.Equal("queued", (await ReadJsonAsync(next, HttpStatusCode.Accepted))["status"]!.GetValue<string>());
            await again.DeleteAsync(next.Headers.Location!.ToString());
            await WaitForAsync(again, next.Headers.Location!.ToString(), Finished, 30); // its browser closed before the instance stops
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<string> ScanStatusInDatabaseAsync(string databasePath)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT status FROM scans";
        return (string)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Without_the_setting_no_private_or_loopback_address_is_scanned_and_the_refusal_names_each_url()
    {
        using var service = NewService(allowPrivate: false);
        var site = await service.CreateSiteAsync();
        using var admin = service.ClientWithKey(site.AdminKey);
        var refused = await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/scans", new
        {
            urls = new[] { "http://127.0.0.1:8080/", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/", "http://site.test/", "http://[::ffff:192.168.1.1]/" },
        });
        var problem = await AssertProblemAsync(refused, HttpStatusCode.BadRequest, "validation");
        var errors = problem["errors"]!.AsObject();
        Assert.Equal(["urls[0]", "urls[1]", "urls[2]", "urls[3]", "urls[4]", "urls[5]"], errors.Select(e => e.Key).Order());
        Assert.Contains("non-public", errors["urls[3]"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        await AssertProblemAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/scans", new { startUrl = "http://192.168.0.1/" }),
            HttpStatusCode.BadRequest, "validation", "startUrl");
        Assert.Equal(0, await service.CountRowsAsync("scans"));
    }

    [Fact]
    public async Task The_browser_is_refused_every_request_to_a_private_address_and_a_start_url_leads_to_same_site_pages_only()
    {
        await using var inside = await ScanTestSite.StartAsync(_ => new Dictionary<string, string> { ["/secret"] = "<p>internal</p>" }, "127.0.0.2");
        using var service = NewService(allowPrivate: false, more: new Dictionary<string, string>
        {
            ["Scan:AllowedPrivateNetworks:0"] = "127.0.0.1/32", // the shop's address, and no other private one
            ["Scan:HostMap:internal.test"] = "127.0.0.2",
            ["Scan:HostMap:other.test"] = "127.0.0.1",
            ["Scan:BannerTimeout"] = "00:00:00.500",
            ["Scan:Settle"] = "00:00:00.300",
        });
        await using var web = await ScanTestSite.StartAsync(port => new Dictionary<string, string>
        {
            ["/"] = $"""
                <!doctype html><title>Home</title>
                <img src="http://internal.test:{inside.Port}/secret" alt="">
                <iframe src="http://internal.test:{inside.Port}/secret" title="x"></iframe>
                <a href="/about">About</a> <a href="/about#team">Team</a> <a href="http://other.test:{port}/elsewhere">Elsewhere</a>
                """,
            ["/about"] = "<!doctype html><title>About</title><a href=\"/\">Home</a>",
        });
        var site = await service.CreateSiteAsync();
        using var admin = service.ClientWithKey(site.AdminKey);
        var location = (await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/scans", new { startUrl = web.Origin("site.test") + "/", pageLimit = 5 })).Headers.Location!.ToString();
        var scan = await WaitForAsync(admin, location, Finished);
        Assert.Equal("completed", scan["status"]!.GetValue<string>());

        Assert.Empty(inside.Hits); // not one request reached the private address
        var report = scan["report"]!;
        Assert.Equal([web.Origin("site.test") + "/", web.Origin("site.test") + "/about"], Strings(report["pages"]));
        Assert.Equal(0, web.HitsOf("other.test/elsewhere"));
        var first = report["visits"]![0]!;
        var refusedRequest = Assert.Single(first["requests"]!.AsArray(), r => r!["host"]!.GetValue<string>() == "internal.test")!;
        Assert.Equal("blocked", refusedRequest["source"]!.GetValue<string>());
        Assert.Empty(report["violations"]!.AsArray());
        Assert.Empty(report["undeclared"]!.AsArray()); // a refused request is no vendor
        Assert.Contains("did not appear", report["visits"]![1]!["error"]!.GetValue<string>(), StringComparison.Ordinal); // no banner on this site
    }

    [Fact]
    public async Task Connections_the_request_hook_never_sees_are_held_to_the_checked_addresses_too()
    {
        // WebSockets pass no request interception: only the connection itself can be refused.
        await using var inside = await ScanTestSite.StartAsync(_ => new Dictionary<string, string> { ["/socket"] = "internal" }, "127.0.0.2");
        using var service = NewService(allowPrivate: false, more: new Dictionary<string, string>
        {
            ["Scan:AllowedPrivateNetworks:0"] = "127.0.0.1/32",
            ["Scan:HostMap:internal.test"] = "127.0.0.2",
            ["Scan:BannerTimeout"] = "00:00:00.300",
            ["Scan:Settle"] = "00:00:01",
        });
        await using var web = await ScanTestSite.StartAsync(port => new Dictionary<string, string>
        {
            ["/"] = $"""
                <!doctype html><title>Home</title>
                <script>
                new WebSocket("ws://internal.test:{inside.Port}/socket");
                new WebSocket("ws://127.0.0.2:{inside.Port}/socket");
                </script>
                """,
        });
        var site = await service.CreateSiteAsync();
        using var admin = service.ClientWithKey(site.AdminKey);
        var location = (await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/scans", new { urls = new[] { web.Origin("site.test") + "/" } })).Headers.Location!.ToString();
        var scan = await WaitForAsync(admin, location, Finished);
        Assert.Equal("completed", scan["status"]!.GetValue<string>());
        Assert.True(web.HitsOf("site.test/") > 0); // the page itself came through the proxy
        Assert.Empty(inside.Hits);
    }

    [Fact]
    public async Task The_scan_proxy_connects_only_to_the_address_it_checked_and_refuses_the_rest()
    {
        await using var allowed = await ScanTestSite.StartAsync(_ => new Dictionary<string, string> { ["/"] = "shop" }, "127.0.0.3");
        await using var trap = await ScanTestSite.StartAsync(_ => new Dictionary<string, string> { ["/"] = "internal" }, "127.0.0.2");
        var guard = new ConsentService.Scans.AddressGuard(Microsoft.Extensions.Options.Options.Create(new ConsentService.Scans.ScanOptions
        {
            AllowedPrivateNetworks = ["127.0.0.3/32"],
            HostMap = new() { ["shop.test"] = "127.0.0.3", ["internal.test"] = "127.0.0.2" },
        }));
        await using var proxy = new ConsentService.Scans.PinnedProxy(guard, TimeSpan.FromSeconds(5));
        using var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Server), UseProxy = true };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };

        Assert.Equal("shop", await http.GetStringAsync($"http://shop.test:{allowed.Port}/"));
        foreach (var refused in new[] { $"http://internal.test:{trap.Port}/", $"http://127.0.0.2:{trap.Port}/", $"http://localhost:{trap.Port}/" })
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(refused));
        }
        Assert.Empty(trap.Hits);
    }

    [Fact]
    public async Task Bad_requests_get_problem_details_naming_the_field_and_store_nothing()
    {
        using var service = NewService();
        var site = await service.CreateSiteAsync();
        using var admin = service.ClientWithKey(site.AdminKey);
        var scans = $"/v1/sites/{site.Id}/scans";
        const string page = "http://site.test/";

        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { }), HttpStatusCode.BadRequest, "validation", "urls");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = new[] { page }, startUrl = page }), HttpStatusCode.BadRequest, "validation", "urls");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = Array.Empty<string>() }), HttpStatusCode.BadRequest, "validation", "urls");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = new[] { page, "ftp://site.test/" } }), HttpStatusCode.BadRequest, "validation", "urls[1]");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = new[] { "/relative" } }), HttpStatusCode.BadRequest, "validation", "urls[0]");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = new[] { "http://user:pw@site.test/" } }), HttpStatusCode.BadRequest, "validation", "urls[0]");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = new[] { page }, pageLimit = 2 }), HttpStatusCode.BadRequest, "validation", "pageLimit");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { startUrl = page, pageLimit = 0 }), HttpStatusCode.BadRequest, "validation", "pageLimit");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { startUrl = page, pageLimit = 1000 }), HttpStatusCode.BadRequest, "validation", "pageLimit");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = page }), HttpStatusCode.BadRequest, "invalid-body", "urls");
        await AssertProblemAsync(await admin.PostAsJsonAsync(scans, new { urls = new[] { page }, depth = 3 }), HttpStatusCode.BadRequest, "invalid-body", "depth");
        using (var check = service.ClientWithKey(site.CheckKey))
        {
            await AssertProblemAsync(await check.PostAsJsonAsync(scans, new { urls = new[] { page } }), HttpStatusCode.Forbidden, "forbidden");
            await AssertProblemAsync(await check.GetAsync(scans), HttpStatusCode.Forbidden, "forbidden");
        }
        using (var anonymous = service.CreateClient())
        {
            await AssertProblemAsync(await anonymous.PostAsJsonAsync(scans, new { urls = new[] { page } }), HttpStatusCode.Unauthorized, "unauthorized");
        }
        await AssertProblemAsync(await admin.GetAsync(scans + "/scn_nope"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await admin.GetAsync(scans + "/scn_nope/report?format=xml"), HttpStatusCode.BadRequest, "validation", "format");
        await AssertProblemAsync(await admin.GetAsync(scans + "/scn_nope/report"), HttpStatusCode.NotFound, "not-found");

        // Another site's admin cannot see, read or cancel this site's scans.
        var other = await service.CreateSiteAsync();
        using var stranger = service.ClientWithKey(other.AdminKey);
        await AssertProblemAsync(await stranger.GetAsync(scans), HttpStatusCode.NotFound, "not-found");

        Assert.Equal(0, await service.CountRowsAsync("scans"));
        Assert.Empty(await ReadArrayAsync(await admin.GetAsync(scans)));
    }
}

public sealed class ScanCommandTests
{
    [Fact]
    public async Task The_command_scans_through_a_running_service_prints_progress_lines_and_exits_3_on_a_violation()
    {
        var settings = new Dictionary<string, string>
        {
            ["Scan:AllowPrivateNetworks"] = "true", ["Scan:Settle"] = "00:00:00.300", ["Scan:BannerTimeout"] = "00:00:00.500",
        };
        using var service = new ConsentApiFactory { Settings = settings };
        service.UseKestrel(0);
        service.StartServer();
        await using var web = await ScanTestSite.StartAsync(_ => new Dictionary<string, string>
        {
            ["/"] = "<!doctype html><title>x</title><script>document.cookie = '_ga=GA1.1.1.2; path=/';</script>",
        }, "127.0.0.1");
        var site = await service.CreateSiteAsync(); // the default policy declares Google Analytics' _ga under analytics
        var api = service.CreateClient().BaseAddress!.ToString();
        var report = Path.Combine(Path.GetTempPath(), $"scan-{Guid.NewGuid():N}.csv");
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var exit = await ConsentService.Scans.ScanCommand.RunAsync(
                ["--api", api, "--site", site.Id, "--key", site.AdminKey, "--out", report, $"http://127.0.0.1:{web.Port}/"], output, error, default);

            Assert.True(exit == 3, error.ToString());
            var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(lines, l => l.StartsWith("scan: running 0/1 page(s) http://127.0.0.1:", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("scan: completed 1/1 page(s)", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("1 violation(s)", StringComparison.Ordinal));
            Assert.Empty(output.ToString()); // the report went to --out, as CSV by its extension
            Assert.Contains(File.ReadAllLines(report), l => l.Contains(",no_decision,cookie,_ga,", StringComparison.Ordinal) && l.EndsWith(",violation", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(report);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("ftp://x/")]
    [InlineData("--start http://a.example/ http://b.example/")]
    [InlineData("--api http://127.0.0.1:1/ http://a.example/")]
    [InlineData("--format xml http://a.example/")]
    [InlineData("--pages 0 --start http://a.example/")]
    public async Task Bad_usage_exits_2_with_the_reason_and_scans_nothing(string commandLine)
    {
        var args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var error = new StringWriter();
        Assert.Equal(2, await ConsentService.Scans.ScanCommand.RunAsync(args, TextWriter.Null, error, default));
        Assert.Contains("Usage: scan", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Standalone_refuses_a_loopback_page_without_allow_private()
    {
        var error = new StringWriter();
        Assert.Equal(1, await ConsentService.Scans.ScanCommand.RunAsync(["http://127.0.0.1:9/"], TextWriter.Null, error, default));
        Assert.Contains("non-public address", error.ToString(), StringComparison.Ordinal);
    }
}
