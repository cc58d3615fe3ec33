using System.Net;
using ConsentService.Tests.Infrastructure;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Caching;

/// <summary>Site ids come from anonymous URLs: a made-up one must leave nothing in the cache.</summary>
public sealed class UnknownSiteCacheTests
{
    /// <summary>Every anonymous request that names a site, each for a fresh made-up id.</summary>
    private static async Task<IReadOnlyList<string>> ProbeMadeUpSitesAsync(HttpClient client, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var id = $"site_madeup{Guid.NewGuid():N}";
            ids.Add(id);
            foreach (var path in new[] { "consent.js", "config", "policies", "policies/1" })
            {
                Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/sites/{id}/{path}")).StatusCode);
            }
            Assert.Equal(HttpStatusCode.NotFound, (await client.PostConsentAsync(id, new { policyVersion = 1, method = "accept_all" })).StatusCode);
            using var preflight = new HttpRequestMessage(HttpMethod.Options, $"/v1/sites/{id}/consents");
            preflight.Headers.Add("Origin", "https://shop.example");
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(preflight)).StatusCode);
        }
        return ids;
    }

    [Fact]
    public async Task Made_up_site_ids_add_no_entry_to_the_memory_cache()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{site.Id}/consent.js")).StatusCode);
        var memory = (MemoryCache)app.Services.GetRequiredService<IMemoryCache>();
        var before = memory.Count;

        await ProbeMadeUpSitesAsync(client, 50);

        Assert.Equal(before, memory.Count);
        // A real site is still cached, so the test can see an entry being added at all.
        var other = await app.CreateSiteAsync();
        Assert.True(memory.Count > before);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{other.Id}/consent.js")).StatusCode);
    }

    [SkippableFact]
    public async Task Made_up_site_ids_leave_no_key_in_redis()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        using var app = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["ConnectionStrings:Redis"] = RedisServer.Shared! } };
        var site = await app.CreateSiteAsync();
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{site.Id}/consent.js")).StatusCode);

        var ids = await ProbeMadeUpSitesAsync(client, 10);

        await using var redis = await ConnectionMultiplexer.ConnectAsync(RedisServer.Shared!);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        foreach (var id in ids)
        {
            Assert.Empty(server.Keys(pattern: $"*{id}*").ToList());
        }
        // The real site's entries are there: the probe would see them if it were wrong.
        Assert.NotEmpty(server.Keys(pattern: $"*{site.Id}*").ToList());
    }
}
