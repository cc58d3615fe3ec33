using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;

namespace ConsentService.Tests.Durability;

/// <summary>The real service in Production mode over real TCP: forwarded headers, HEAD through Kestrel, the AllowedHosts warning.</summary>
public sealed class EdgeProcessTests
{
    [Fact]
    public async Task A_direct_client_is_not_believed_even_with_forwarded_headers_enabled_and_head_works_through_kestrel()
    {
        var data = ConsentApiFactory.NewDataDirectory();
        // ASPNETCORE_FORWARDEDHEADERS_ENABLED alone makes ASP.NET Core believe every sender; the configured proxy list still rules.
        await using var service = await ServiceProcess.StartAsync(data, new Dictionary<string, string?>
        {
            ["ASPNETCORE_FORWARDEDHEADERS_ENABLED"] = "true",
            ["ForwardedHeaders__KnownProxies__0"] = "10.0.0.2",
        });
        using var op = new HttpClient { BaseAddress = service.Address };
        op.DefaultRequestHeaders.Authorization = new("Bearer", ServiceProcess.OperatorKey);
        var created = JsonNode.Parse(await (await op.PostAsync("/v1/sites", new StringContent(
            """{"name":"Shop","allowedOrigins":["https://shop.example"]}""", System.Text.Encoding.UTF8, "application/json"))).Content.ReadAsStringAsync())!;
        var siteId = created["id"]!.GetValue<string>();

        using var visitor = new HttpClient { BaseAddress = service.Address };
        visitor.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.7");
        var posted = await visitor.PostAsync($"/v1/sites/{siteId}/consents",
            new StringContent("""{"policyVersion":1,"method":"accept_all"}""", System.Text.Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
        var record = JsonNode.Parse(await posted.Content.ReadAsStringAsync())!;
        Assert.Equal("127.0.0.0/24", record["source"]!["ipPrefix"]!.GetValue<string>());

        // HEAD through Kestrel: the script's real Content-Length and ETag, no body on the wire.
        using var get = await visitor.GetAsync($"/v1/sites/{siteId}/consent.js");
        var length = (await get.Content.ReadAsByteArrayAsync()).Length;
        using var head = await visitor.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/sites/{siteId}/consent.js"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(length, head.Content.Headers.ContentLength);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        using var health = await visitor.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/health/ready"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        Assert.Contains("AllowedHosts is '*'", service.Log, StringComparison.Ordinal);
        try { Directory.Delete(data, recursive: true); } catch (IOException) { }
    }
}
