using System.Net;
using ConsentService.Infrastructure;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>
/// Tiny limits over an hour-long window: the limiter runs on real time (not the fake clock), and
/// a bucket of N permits per hour gets its next one back only after 60/N minutes, far beyond a test.
/// </summary>
public sealed class RateLimitedApiFactory : IDisposable
{
    public const int Writes = 3;
    public const int Reads = 4;
    public const int PerClient = 20;
    public const int Checks = 5;

    public ConsentApiFactory Factory { get; } = new()
    {
        ClientAddressFromHeader = true,
        Settings = new Dictionary<string, string>
        {
            ["RateLimits:PublicWrites:PermitLimit"] = $"{Writes}",
            ["RateLimits:PublicWrites:Window"] = "01:00:00",
            ["RateLimits:PublicReads:PermitLimit"] = $"{Reads}",
            ["RateLimits:PublicReads:Window"] = "01:00:00",
            ["RateLimits:PerClient:PermitLimit"] = $"{PerClient}",
            ["RateLimits:PerClient:Window"] = "01:00:00",
            ["RateLimits:Checks:PermitLimit"] = $"{Checks}",
            ["RateLimits:Checks:Window"] = "01:00:00",
            // The operator key creates every site of the class; other tests limit keys on their own factory.
            ["RateLimits:Keys:PermitLimit"] = "100000",
        },
    };

    public void Dispose() => Factory.Dispose();
}

public sealed class RateLimitTests(RateLimitedApiFactory api) : IClassFixture<RateLimitedApiFactory>
{
    private ConsentApiFactory Factory => api.Factory;

    private static int _address;

    /// <summary>A client address no other test uses, so each test starts with full buckets.</summary>
    private static string NewAddress()
    {
        var n = Interlocked.Increment(ref _address);
        return $"198.51.{n / 250}.{n % 250 + 1}";
    }

    private HttpClient ClientAt(string address, string? key = null)
    {
        var client = Factory.ClientWithKey(key);
        client.DefaultRequestHeaders.Add(ConsentApiFactory.ClientAddressHeader, address);
        return client;
    }

    private static readonly object Decision = new { policyVersion = 1, method = "reject_all" };

    private static async Task AssertRateLimitedAsync(HttpResponseMessage response)
    {
        var problem = await AssertProblemAsync(response, HttpStatusCode.TooManyRequests, "rate-limited");
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        // One permit comes back every 60/N minutes of the hour-long window.
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(20));
        Assert.Contains($"{(int)retryAfter.Value.TotalSeconds} s", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Anonymous_posts_over_the_limit_get_429_with_retry_after_and_write_nothing()
    {
        var site = await Factory.CreateSiteAsync();
        var address = NewAddress();
        using var client = ClientAt(address);
        for (var i = 0; i < RateLimitedApiFactory.Writes; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await client.PostConsentAsync(site.Id, Decision)).StatusCode);
        }

        await AssertRateLimitedAsync(await client.PostConsentAsync(site.Id, Decision));
        Assert.Equal(RateLimitedApiFactory.Writes, await Factory.CountRowsAsync("consents", site.Id));

        // The bucket belongs to this site and this address: another address, or another site, is unaffected.
        using var neighbour = ClientAt(NewAddress());
        Assert.Equal(HttpStatusCode.Created, (await neighbour.PostConsentAsync(site.Id, Decision)).StatusCode);
        var other = await Factory.CreateSiteAsync();
        Assert.Equal(HttpStatusCode.Created, (await client.PostConsentAsync(other.Id, Decision)).StatusCode);
        Assert.Equal(RateLimitedApiFactory.Writes + 1, await Factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task A_site_back_end_posting_with_its_key_is_limited_per_key_not_per_address()
    {
        var site = await Factory.CreateSiteAsync();
        using var backEnd = ClientAt(NewAddress(), site.AdminKey);
        for (var i = 0; i < RateLimitedApiFactory.Writes + 2; i++)
        {
            var response = await backEnd.PostConsentAsync(site.Id, new { subjectId = $"user:{i}", policyVersion = 1, method = "api" }, "application/json");
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
    }

    [Fact]
    public async Task Public_reads_are_limited_per_site_and_address()
    {
        var site = await Factory.CreateSiteAsync();
        var other = await Factory.CreateSiteAsync();
        using var client = ClientAt(NewAddress());
        var paths = new[] { "consent.js", "config", "policies", "policies/1" };
        foreach (var path in paths)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{site.Id}/{path}")).StatusCode);
        }
        foreach (var path in paths)
        {
            await AssertRateLimitedAsync(await client.GetAsync($"/v1/sites/{site.Id}/{path}"));
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{other.Id}/consent.js")).StatusCode);
        using var neighbour = ClientAt(NewAddress());
        Assert.Equal(HttpStatusCode.OK, (await neighbour.GetAsync($"/v1/sites/{site.Id}/consent.js")).StatusCode);
    }

    [Fact]
    public async Task Reads_and_writes_of_one_site_and_address_are_counted_apart_and_one_ipv6_64_is_one_client()
    {
        var site = await Factory.CreateSiteAsync();
        var n = Interlocked.Increment(ref _address);
        using var first = ClientAt($"2001:db8:{n:x}:1::1");
        for (var i = 0; i < RateLimitedApiFactory.Writes; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await first.PostConsentAsync(site.Id, Decision)).StatusCode);
        }
        await AssertRateLimitedAsync(await first.PostConsentAsync(site.Id, Decision));
        // The writes' bucket is spent; the reads' of the same site and address is not.
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync($"/v1/sites/{site.Id}/consent.js")).StatusCode);
        // Another address of the same /64 is the same client: its writes share the spent bucket.
        using var sameNetwork = ClientAt($"2001:db8:{n:x}:1:ffff::2");
        await AssertRateLimitedAsync(await sameNetwork.PostConsentAsync(site.Id, Decision));
        using var otherNetwork = ClientAt($"2001:db8:{n:x}:2::1");
        Assert.Equal(HttpStatusCode.Created, (await otherNetwork.PostConsentAsync(site.Id, Decision)).StatusCode);
        Assert.Equal(RateLimitedApiFactory.Writes + 1, await Factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task One_address_cannot_dodge_the_limit_with_a_new_site_id_per_request()
    {
        using var client = ClientAt(NewAddress());
        for (var i = 0; i < RateLimitedApiFactory.PerClient; i++)
        {
            await AssertProblemAsync(await client.GetAsync($"/v1/sites/nope-{i}/config"), HttpStatusCode.NotFound, "not-found");
        }
        await AssertRateLimitedAsync(await client.GetAsync("/v1/sites/nope-last/config"));
        await AssertRateLimitedAsync(await client.PostConsentAsync("nope-last", Decision));
        using var neighbour = ClientAt(NewAddress());
        await AssertProblemAsync(await neighbour.GetAsync("/v1/sites/nope-last/config"), HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Made_up_bearer_tokens_count_against_the_anonymous_limit_and_a_live_key_keeps_its_own_bucket()
    {
        var site = await Factory.CreateSiteAsync();
        var address = NewAddress();
        var passed = 0;
        for (var i = 0; i < 30; i++)
        {
            // Both shapes: one that looks like a key (a store lookup finds nothing) and plain garbage.
            var token = i % 2 == 0 ? SiteKeyShaped() : Guid.NewGuid().ToString("N");
            using var client = ClientAt(address, token);
            var response = await client.GetAsync($"/v1/sites/{site.Id}/consent.js");
            if (response.StatusCode == HttpStatusCode.OK) passed++;
            else await AssertRateLimitedAsync(response);
        }
        Assert.Equal(RateLimitedApiFactory.Reads, passed);

        // A revoked key is no better than a made-up one.
        var revokedKey = await Factory.IssueKeyAsync(site.Id, site.AdminKey, "check");
        using (var admin = Factory.ClientWithKey(site.AdminKey))
        {
            var keys = await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/keys"));
            var id = keys.Last(k => k!["hint"]!.GetValue<string>().EndsWith(revokedKey[^4..], StringComparison.Ordinal))!["id"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{id}")).StatusCode);
        }
        using var revoked = ClientAt(address, revokedKey);
        await AssertRateLimitedAsync(await revoked.GetAsync($"/v1/sites/{site.Id}/consent.js"));

        // The same address with a live key still has its key's budget.
        using var backEnd = ClientAt(address, site.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await backEnd.GetAsync($"/v1/sites/{site.Id}/consent.js")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await backEnd.GetAsync($"/v1/sites/{site.Id}")).StatusCode);
    }

    private static string SiteKeyShaped() => "csk_" + ConsentService.Infrastructure.Secrets.Token(32);

    [Fact]
    public async Task Checks_are_limited_per_key_and_other_keys_keep_their_own_budget()
    {
        var site = await Factory.CreateSiteAsync();
        var subject = NewSubjectId();
        var address = NewAddress();
        using var check = ClientAt(address, site.CheckKey);
        for (var i = 0; i < RateLimitedApiFactory.Checks; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await check.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent")).StatusCode);
        }
        await AssertRateLimitedAsync(await check.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent"));

        // Same address, same site, another key: its own bucket.
        using var admin = ClientAt(address, site.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent")).StatusCode);
        // And the visitors of that address are not held back by the back end's key.
        using var visitor = ClientAt(address);
        Assert.Equal(HttpStatusCode.Created, (await visitor.PostConsentAsync(site.Id, Decision)).StatusCode);
    }

    [Fact]
    public async Task Health_probes_are_never_limited()
    {
        using var client = ClientAt(NewAddress());
        for (var i = 0; i < RateLimitedApiFactory.PerClient + 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        }
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")]
    public void Addresses_are_counted_whole_for_ipv4_and_by_64_bit_prefix_for_ipv6(string address, string key)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        Assert.Equal(key, RateLimits.ClientAddress(context));
    }
}

public sealed class KeyRateLimitTests
{
    [Fact]
    public async Task Requests_with_a_key_are_limited_per_key()
    {
        const int limit = 6;
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["RateLimits:Keys:PermitLimit"] = $"{limit}", ["RateLimits:Keys:Window"] = "01:00:00" } };
        var site = await factory.CreateSiteAsync(); // the admin key issues the legal and check keys: 2 requests
        using var admin = factory.ClientWithKey(site.AdminKey);
        for (var i = 2; i < limit; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/v1/sites/{site.Id}")).StatusCode);
        }
        var refused = await admin.PostAsync($"/v1/sites/{site.Id}/keys", new StringContent("""{"role":"check"}""", System.Text.Encoding.UTF8, "application/json"));
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
        Assert.NotNull(refused.Headers.RetryAfter?.Delta);
        Assert.Equal(3, await factory.CountRowsAsync("api_keys", site.Id));

        using var legal = factory.ClientWithKey(site.LegalKey);
        Assert.Equal(HttpStatusCode.NotFound, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{NewSubjectId()}/history")).StatusCode);
        using var op = factory.OperatorClient();
        Assert.Equal(HttpStatusCode.OK, (await op.GetAsync($"/v1/sites/{site.Id}")).StatusCode);
    }

    [Theory]
    [InlineData("RateLimits:PublicWrites:PermitLimit", "0")]
    [InlineData("RateLimits:Checks:Window", "00:00:00")]
    public void Limits_that_make_no_sense_stop_the_service_at_startup(string key, string value)
    {
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { [key] = value } };
        var error = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains(key, error.Message);
    }
}
