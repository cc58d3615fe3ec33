using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>The app on real Kestrel (so the Server header is Kestrel's own), with the demo site seeded.</summary>
public sealed class KestrelDemoFactory : IDisposable
{
    public ConsentApiFactory Factory { get; }

    public KestrelDemoFactory()
    {
        Factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["Demo:Seed"] = "true", ["Demo:SiteId"] = "demo" } };
        Factory.UseKestrel(0);
        Factory.StartServer();
    }

    public void Dispose() => Factory.Dispose();
}

public sealed partial class SecurityHeaderTests(KestrelDemoFactory demo) : IClassFixture<KestrelDemoFactory>
{
    private ConsentApiFactory Factory => demo.Factory;

    private static void AssertCommonHeaders(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.False(response.Headers.Contains("Server"), "no server banner");
        Assert.Empty(response.Headers.Server);
    }

    [Fact]
    public async Task Personal_json_answers_carry_the_headers_and_are_never_cached()
    {
        var site = await Factory.CreateSiteAsync();
        var subject = NewSubjectId();
        using var visitor = Factory.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await visitor.PostConsentAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" })).StatusCode);
        using var legal = Factory.ClientWithKey(site.LegalKey);
        foreach (var path in new[] { $"subjects/{subject}/consent", $"subjects/{subject}/history", "consents/export?format=ndjson" })
        {
            var response = await legal.GetAsync($"/v1/sites/{site.Id}/{path}");
            Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode}");
            AssertCommonHeaders(response);
            Assert.Equal("default-src 'none'; frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.True(response.Headers.CacheControl?.NoStore, $"{path}: Cache-Control {response.Headers.CacheControl}");
        }
    }

    [Fact]
    public async Task Problem_answers_carry_the_headers()
    {
        using var client = Factory.CreateClient();
        var response = await client.GetAsync("/v1/sites/site_nope/config");
        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        AssertCommonHeaders(response);
        Assert.True(response.Headers.CacheControl?.NoStore);

        var unmatched = await client.GetAsync("/no/such/path");
        Assert.Equal(HttpStatusCode.NotFound, unmatched.StatusCode);
        AssertCommonHeaders(unmatched);
    }

    [Fact]
    public async Task Consent_js_carries_the_headers_and_keeps_its_public_caching()
    {
        using var client = Factory.CreateClient();
        var response = await client.GetAsync("/v1/sites/demo/consent.js");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertCommonHeaders(response);
        Assert.Equal("public, max-age=300", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task The_demo_page_gets_a_strict_csp_that_names_its_inline_scripts_by_hash()
    {
        using var client = Factory.CreateClient();
        var response = await client.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertCommonHeaders(response);
        var csp = Directives(response.Headers.GetValues("Content-Security-Policy").Single());

        Assert.Equal("'none'", csp["default-src"]);
        Assert.Equal("'none'", csp["base-uri"]);
        Assert.Equal("'none'", csp["frame-ancestors"]);
        Assert.Equal("'self'", csp["connect-src"]);
        Assert.DoesNotContain("unsafe", csp["script-src"]);
        // The snippet injects its banner CSS as a <style> element.
        Assert.Equal("'self' 'unsafe-inline'", csp["style-src"]);
        var inline = InlineScripts().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(2, inline.Count); // the page's own script and the analytics stand-in it gates
        var hashes = inline.Select(text => $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(text)))}'");
        Assert.Equal(["'self'", .. hashes], csp["script-src"].Split(' '));
    }

    [Fact]
    public async Task The_swagger_ui_gets_a_csp_that_allows_only_its_own_files()
    {
        using var client = Factory.CreateClient();
        var response = await client.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertCommonHeaders(response);
        var csp = Directives(response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("'self'", csp["script-src"]);
        Assert.Equal("'none'", csp["object-src"]);
    }

    private static Dictionary<string, string> Directives(string policy) =>
        policy.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(d => d.Split(' ', 2))
            .ToDictionary(d => d[0], d => d.Length > 1 ? d[1] : "");

    [GeneratedRegex("<script(?![^>]*src=)[^>]*>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex InlineScripts();
}
