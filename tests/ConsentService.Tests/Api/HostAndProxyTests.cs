using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>
/// What a client says about where it is (Host, X-Forwarded-For) is believed only where it must be:
/// the snippet never carries a request's Host, and forwarded headers count only from configured proxies.
/// </summary>
public sealed class HostAndProxyTests
{
    private static async Task<HttpResponseMessage> GetWithHostAsync(HttpClient client, string path, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = host;
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task A_forged_host_is_never_written_into_the_publicly_cached_script_or_the_config()
    {
        using var factory = new ConsentApiFactory();
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        var script = await GetWithHostAsync(client, $"/v1/sites/{site.Id}/consent.js", "evil.example");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("public, max-age=300", script.Headers.CacheControl?.ToString());
        Assert.DoesNotContain("evil.example", await script.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var config = await ReadJsonAsync(await GetWithHostAsync(client, $"/v1/sites/{site.Id}/config", "evil.example"));
        Assert.Null(config["api"]); // no PublicUrl: the snippet posts to where it was loaded from

        // Every Host gets the very same bytes: nothing of the request varies the script.
        var plain = await (await client.GetAsync($"/v1/sites/{site.Id}/consent.js")).Content.ReadAsByteArrayAsync();
        var forged = await (await GetWithHostAsync(client, $"/v1/sites/{site.Id}/consent.js", "evil.example:8443")).Content.ReadAsByteArrayAsync();
        Assert.Equal(plain, forged);
    }

    [Fact]
    public async Task The_configured_public_url_is_what_the_snippet_posts_to_whatever_the_host()
    {
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["PublicUrl"] = "https://consent.example.com/" } };
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        var config = await ReadJsonAsync(await GetWithHostAsync(client, $"/v1/sites/{site.Id}/config", "evil.example"));
        Assert.Equal("https://consent.example.com", config["api"]!.GetValue<string>());
        var script = await (await GetWithHostAsync(client, $"/v1/sites/{site.Id}/consent.js", "evil.example")).Content.ReadAsStringAsync();
        Assert.Contains("\"api\":\"https://consent.example.com\"", script, StringComparison.Ordinal);
        Assert.DoesNotContain("evil.example", script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("consent.example.com")]
    [InlineData("/relative")]
    [InlineData("ftp://consent.example.com")]
    [InlineData("https://consent.example.com/?x=1")]
    [InlineData("https://user:pw@consent.example.com")]
    public void A_public_url_that_is_not_an_http_base_url_stops_the_start_naming_the_setting(string url)
    {
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["PublicUrl"] = url } };
        var failure = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("PublicUrl", failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_allowed_hosts_configured_a_request_for_another_host_is_refused()
    {
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["AllowedHosts"] = "consent.example.com;localhost" } };
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{site.Id}/consent.js")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetWithHostAsync(client, $"/v1/sites/{site.Id}/consent.js", "consent.example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await GetWithHostAsync(client, $"/v1/sites/{site.Id}/consent.js", "evil.example")).StatusCode);
    }

    // ---- Forwarded headers -----------------------------------------------------------------------

    private const string Proxy = "10.0.0.2";
    private const int Writes = 5;

    private static ConsentApiFactory BehindProxy() => new()
    {
        ClientAddressFromHeader = true,
        Settings = new Dictionary<string, string>
        {
            ["ForwardedHeaders:KnownProxies:0"] = Proxy,
            ["RateLimits:PublicWrites:PermitLimit"] = $"{Writes}",
            ["RateLimits:PublicWrites:Window"] = "01:00:00",
        },
    };

    private static async Task<HttpResponseMessage> PostFromAsync(ConsentApiFactory factory, string siteId, string peer, string forwardedFor)
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add(ConsentApiFactory.ClientAddressHeader, peer);
        client.DefaultRequestHeaders.Add("X-Forwarded-For", forwardedFor);
        return await client.PostConsentAsync(siteId, new { policyVersion = 1, method = "reject_all" });
    }

    [Fact]
    public async Task A_direct_client_cannot_pick_its_rate_limit_bucket_or_its_stored_ip_prefix_with_x_forwarded_for()
    {
        using var factory = BehindProxy();
        var site = await factory.CreateSiteAsync();
        var statuses = new List<HttpStatusCode>();
        JsonObject? first = null;
        for (var i = 0; i <= Writes; i++)
        {
            var response = await PostFromAsync(factory, site.Id, "203.0.113.9", $"198.51.{i}.7");
            statuses.Add(response.StatusCode);
            if (i == 0) first = await ReadJsonAsync(response, HttpStatusCode.Created);
        }
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Created, Writes), HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal("203.0.113.0/24", first!["source"]!["ipPrefix"]!.GetValue<string>());
        Assert.Equal(Writes, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task Through_a_configured_proxy_the_forwarded_address_is_the_client()
    {
        using var factory = BehindProxy();
        var site = await factory.CreateSiteAsync();
        for (var i = 0; i <= Writes; i++)
        {
            var record = await ReadJsonAsync(await PostFromAsync(factory, site.Id, Proxy, $"198.51.{i}.7"), HttpStatusCode.Created);
            Assert.Equal($"198.51.{i}.0/24", record["source"]!["ipPrefix"]!.GetValue<string>());
        }
        // One visitor behind the proxy has one bucket, whatever it puts in front in the header: the proxy appends the real address last.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i <= Writes; i++)
        {
            statuses.Add((await PostFromAsync(factory, site.Id, Proxy, $"192.0.2.{i}, 198.51.200.7")).StatusCode);
        }
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Created, Writes), HttpStatusCode.TooManyRequests], statuses);
    }
}
