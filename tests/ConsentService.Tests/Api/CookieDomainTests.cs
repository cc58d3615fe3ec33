using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>
/// Issue 15 §2: a site's cookieDomain, so shop.example.com and blog.example.com share one decision.
/// Refused, with the reason, wherever a browser would ignore the cookie: public suffixes (the vendored
/// Public Suffix List, both sections), IP literals, and domains that leave an allowed origin out.
/// </summary>
public sealed class CookieDomainTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private static readonly string[] ExampleOrigins = ["https://shop.example.com", "https://blog.example.com:8443"];

    [Fact]
    public async Task A_cookie_domain_covering_every_origin_is_stored_normalised_and_reaches_the_snippet()
    {
        var site = await factory.CreateSiteAsync(new { name = "Shop", allowedOrigins = ExampleOrigins, cookieDomain = ".Example.COM" });
        using var admin = factory.ClientWithKey(site.AdminKey);
        Assert.Equal("example.com", (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}")))["cookieDomain"]?.GetValue<string>());
        Assert.Contains("\"cookieDomain\":\"example.com\"", await StoredDocumentAsync(site.Id), StringComparison.Ordinal);

        using var anonymous = factory.CreateClient();
        var config = await ReadJsonAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/config"));
        Assert.Equal("example.com", config["cookieDomain"]?.GetValue<string>());
        Assert.Contains("\"cookieDomain\":\"example.com\"", await anonymous.GetStringAsync($"/v1/sites/{site.Id}/consent.js"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_patched_cookie_domain_is_served_at_once_and_an_empty_one_removes_it()
    {
        var site = await factory.CreateSiteAsync(new { name = "Shop", allowedOrigins = ExampleOrigins });
        using var admin = factory.ClientWithKey(site.AdminKey);
        using var anonymous = factory.CreateClient();
        // Built once without the domain: the served variant must not outlive the change.
        Assert.Null((await ReadJsonAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/config")))["cookieDomain"]);
        Assert.DoesNotContain("\"cookieDomain\":", await anonymous.GetStringAsync($"/v1/sites/{site.Id}/consent.js"), StringComparison.Ordinal);

        var patched = await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { cookieDomain = "example.com" }));
        Assert.Equal("example.com", patched["cookieDomain"]?.GetValue<string>());
        Assert.Equal("example.com", (await ReadJsonAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/config")))["cookieDomain"]?.GetValue<string>());
        Assert.Contains("\"cookieDomain\":\"example.com\"", await anonymous.GetStringAsync($"/v1/sites/{site.Id}/consent.js"), StringComparison.Ordinal);

        // Another field alone keeps it (merge-patch); "" removes it.
        Assert.Equal("example.com", (await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { name = "Renamed" })))["cookieDomain"]?.GetValue<string>());
        var cleared = await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { cookieDomain = "" }));
        Assert.Null(cleared["cookieDomain"]);
        Assert.Null((await ReadJsonAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/config")))["cookieDomain"]);
        Assert.DoesNotContain("cookieDomain\":\"", await StoredDocumentAsync(site.Id), StringComparison.Ordinal);
    }

    /// <summary>cookieDomain, the site's origins, a word the reason must contain.</summary>
    public static TheoryData<string, string[], string> Refused => new()
    {
        { "com", ["https://shop.example.com"], "public suffix" },
        { "co.uk", ["https://shop.example.co.uk"], "public suffix" },
        { "github.io", ["https://me.github.io"], "public suffix" }, // the list's private section
        { "Github.IO", [], "public suffix" },
        { "localhost", ["http://localhost:3000"], "public suffix" }, // the default rule
        { "127.0.0.1", ["http://127.0.0.1:8080"], "IP address" },
        { "[::1]", [], "IP address" },
        { "::1", [], "IP address" },
        { "10.1", [], "IP address" },
        { "example.com", ["https://shop.example.com", "https://shop.example.org"], "https://shop.example.org" },
        { "shop.example.com", ["https://blog.example.com"], "https://blog.example.com" },
        { "example.com", ["https://badexample.com"], "https://badexample.com" }, // a suffix of the host, not a parent domain
        { "example.com", ["http://127.0.0.1:8080"], "http://127.0.0.1:8080" },
        { "exa mple.com", [], "not a domain" },
        { "-bad.example.com", [], "not a domain" },
        { "example..com", [], "not a domain" },
        { "example.com.", [], "not a domain" },
        { "example.com;secure", [], "not a domain" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_bad_cookie_domain_is_refused_at_creation_with_the_reason_and_nothing_is_written(string cookieDomain, string[] origins, string reason)
    {
        using var op = factory.OperatorClient();
        var before = await factory.CountRowsAsync("sites");

        var response = await op.PostAsJsonAsync("/v1/sites", new { name = "Shop", allowedOrigins = origins, cookieDomain });

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "cookieDomain");
        Assert.Contains(reason, problem["errors"]!["cookieDomain"]![0]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await factory.CountRowsAsync("sites"));
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_bad_cookie_domain_is_refused_by_patch_and_the_site_is_unchanged(string cookieDomain, string[] origins, string reason)
    {
        var site = await factory.CreateSiteAsync(new { name = "Shop", allowedOrigins = origins });
        using var admin = factory.ClientWithKey(site.AdminKey);
        var stored = await StoredDocumentAsync(site.Id);

        var response = await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { name = "Renamed", cookieDomain });

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "cookieDomain");
        Assert.Contains(reason, problem["errors"]!["cookieDomain"]![0]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(stored, await StoredDocumentAsync(site.Id));
        Assert.Equal("Shop", (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}")))["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task New_origins_that_the_kept_cookie_domain_does_not_cover_are_refused_naming_the_origin()
    {
        var site = await factory.CreateSiteAsync(new { name = "Shop", allowedOrigins = ExampleOrigins, cookieDomain = "example.com" });
        using var admin = factory.ClientWithKey(site.AdminKey);
        var stored = await StoredDocumentAsync(site.Id);

        var response = await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { allowedOrigins = new[] { "https://www.example.com", "https://example.net" } });

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "allowedOrigins[1]");
        Assert.Contains("https://example.net", problem["errors"]!["allowedOrigins[1]"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(stored, await StoredDocumentAsync(site.Id));

        // Both changed together, consistently: accepted.
        var patched = await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}",
            new { allowedOrigins = new[] { "https://example.net", "https://shop.example.net" }, cookieDomain = "example.net" }));
        Assert.Equal("example.net", patched["cookieDomain"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("example.co.uk", "https://shop.example.co.uk")]
    [InlineData("me.github.io", "https://me.github.io")]
    [InlineData("shop.example.com", "https://a.shop.example.com")]
    [InlineData("bücher.example", "https://xn--bcher-kva.example")]
    public async Task Registrable_domains_and_their_subdomains_are_accepted(string cookieDomain, string origin)
    {
        using var op = factory.OperatorClient();
        var created = await ReadJsonAsync(await op.PostAsJsonAsync("/v1/sites", new { name = "Shop", allowedOrigins = new[] { origin }, cookieDomain }), HttpStatusCode.Created);
        Assert.Equal(PublicSuffixListAscii(cookieDomain), created["site"]!["cookieDomain"]!.GetValue<string>());
    }

    private static string PublicSuffixListAscii(string domain) => ConsentService.Sites.PublicSuffixList.ToAscii(domain)!;

    private async Task<string> StoredDocumentAsync(string siteId)
    {
        await using var connection = new SqliteConnection($"Data Source={factory.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT document FROM sites WHERE id = $id";
        command.Parameters.AddWithValue("$id", siteId);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
