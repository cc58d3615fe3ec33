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
        // The marketing tag ran in the Accept all profile only: on the click, and again on the reload with the decision stored.
        Assert.Equal(2, shop.HitsOf("tags.test/tr"));
        Assert.Equal(2, shop.HitsOf("tags.test/fb.js"));

        // The suggested policy is a valid version: it publishes as it is.
        var suggested = report["suggestedPolicy"]!.AsObject();
        var marketing = suggested["purposes"]!.AsArray().Single(p => p!["id"]!.GetValue<string>() == "marketing")!;
        var facebook = marketing["vendors"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "Facebook")!;
        Assert.Equal(["_fbp"], Strings(facebook["cookies"]));
        var published = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", suggested), HttpStatusCode.Created);
        Assert.Equal(2, published["version"]!.GetValue<int>());

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
}
