using System.Buffers.Text;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;
using ConsentService.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using StackExchange.Redis;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Caching;

/// <summary>The service on Redis (ConnectionStrings:Redis), through HTTP, against a real redis-server.</summary>
public sealed class RedisCacheApiTests
{
    private static string CheckPath(string siteId, string subject) => $"/v1/sites/{siteId}/subjects/{subject}/consent";

    /// <summary>With <paramref name="sharesDatabaseWith"/>, a second instance of that one's deployment.</summary>
    private static ConsentApiFactory App(string redis, ConsentApiFactory? sharesDatabaseWith = null) => new()
    {
        SharesDatabaseWith = sharesDatabaseWith,
        Settings = new Dictionary<string, string> { ["ConnectionStrings:Redis"] = redis },
    };

    private static async Task<bool> AnalyticsGrantedAsync(ConsentApiFactory app, TestSite site, string subject)
    {
        using var checker = app.ClientWithKey(site.CheckKey);
        var state = await ReadJsonAsync(await checker.GetAsync(CheckPath(site.Id, subject)));
        return state["purposes"]!["analytics"]!["granted"]!.GetValue<bool>();
    }

    private static async Task<JsonObject> ReadyAsync(ConsentApiFactory app)
    {
        using var client = app.CreateClient();
        return await ReadJsonAsync(await client.GetAsync("/health/ready"));
    }

    /// <summary>
    /// The name the service gives a subject's entry: HMAC-SHA256 under the deployment's secret, which the
    /// test reads from the store as a second instance would.
    /// </summary>
    private static async Task<string> CacheKeyAsync(ConsentApiFactory app, string siteId, string subject)
    {
        await using var connection = new SqliteConnection($"Data Source={app.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM deployment_secrets WHERE name = 'subject-cache-keys'";
        var secret = (byte[])(await command.ExecuteScalarAsync())!;
        return $"consent:{siteId}:{Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{siteId}\n{subject}")))}";
    }

    [SkippableFact]
    public async Task No_redis_key_names_a_subject_before_or_after_its_erasure_and_cached_answers_still_work()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        using var app = App(RedisServer.Shared!);
        var site = await app.CreateSiteAsync();
        var (subject, other) = (NewSubjectId(), NewSubjectId());
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        await app.RecordAsync(site.Id, new { subjectId = other, policyVersion = 1, method = "accept_all" });
        Assert.True(await AnalyticsGrantedAsync(app, site, subject));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(RedisServer.Shared!);
        var server = redis.GetServers().Single();
        async Task<List<string>> KeysAsync() => await server.KeysAsync(pattern: "*").Select(k => k.ToString()).ToListAsync();

        var key = await CacheKeyAsync(app, site.Id, subject);
        Assert.Contains(key, await KeysAsync());
        // A hit is served from that key: change it behind the service's back and an instance that has not
        // cached it in memory yet follows.
        var cached = JsonNode.Parse((string)(await redis.GetDatabase().HashGetAsync(key, "d"))!)!.AsObject();
        cached["purposes"]!["analytics"] = false;
        await redis.GetDatabase().HashSetAsync(key, "d", cached.ToJsonString());
        using (var second = App(RedisServer.Shared!, app))
        {
            Assert.False(await AnalyticsGrantedAsync(second, site, subject));
        }

        using var legal = app.ClientWithKey(site.LegalKey);
        Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{subject}")).StatusCode);
        Assert.False(await AnalyticsGrantedAsync(app, site, subject));
        Assert.True(await AnalyticsGrantedAsync(app, site, other));

        var keys = await KeysAsync();
        Assert.DoesNotContain(keys, k => k.Contains(subject, StringComparison.Ordinal) || k.Contains(other, StringComparison.Ordinal));
        Assert.Equal("null", (string?)await redis.GetDatabase().HashGetAsync(key, "d")); // "no consent" as of the erasure
        foreach (var name in keys.Where(k => k.StartsWith($"consent:{site.Id}:", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(subject, (string?)await redis.GetDatabase().HashGetAsync(name, "d") ?? "");
        }
    }

    [SkippableFact]
    public async Task Checks_are_answered_from_memory_and_an_instance_without_them_in_memory_reads_redis()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        using var app = App(RedisServer.Shared!);
        var site = await app.CreateSiteAsync();
        await HearsInvalidationsAsync(app); // until then, memory is trusted for a second only
        var subject = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "reject_all" });
        Assert.False(await AnalyticsGrantedAsync(app, site, subject));

        // Change the cached record in Redis behind the service's back (no write, so no invalidation).
        await using var redis = await ConnectionMultiplexer.ConnectAsync(RedisServer.Shared!);
        var key = await CacheKeyAsync(app, site.Id, subject);
        var cached = JsonNode.Parse((string)(await redis.GetDatabase().HashGetAsync(key, "d"))!)!.AsObject();
        Assert.Equal(subject, cached["subjectId"]!.GetValue<string>());
        cached["purposes"]!["analytics"] = true;
        await redis.GetDatabase().HashSetAsync(key, "d", cached.ToJsonString());

        // The instance that wrote it answers from its memory; a second one, with nothing in memory, from Redis.
        Assert.False(await AnalyticsGrantedAsync(app, site, subject));
        using var second = App(RedisServer.Shared!, app);
        Assert.True(await AnalyticsGrantedAsync(second, site, subject));
        Assert.Equal("Healthy", (await ReadyAsync(app))["checks"]!["redis"]!["status"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task A_write_on_one_instance_is_seen_at_once_there_and_within_the_staleness_bound_on_another()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        using var first = App(RedisServer.Shared!);
        using var second = App(RedisServer.Shared!, first); // one database, two instances
        var site = await first.CreateSiteAsync();
        var subject = NewSubjectId();

        await first.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        Assert.True(await AnalyticsGrantedAsync(first, site, subject));
        Assert.True(await AnalyticsGrantedAsync(second, site, subject)); // cached by the second instance
        await first.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        Assert.False(await AnalyticsGrantedAsync(first, site, subject)); // the writer: at once
        await EventuallyAsync(async () => !await AnalyticsGrantedAsync(second, site, subject));

        // Site settings and policy versions are shared the same way.
        using var secondAdmin = second.ClientWithKey(site.AdminKey);
        Assert.Equal("gdpr", (await ReadJsonAsync(await secondAdmin.GetAsync($"/v1/sites/{site.Id}")))["jurisdictionMode"]!.GetValue<string>());
        using var firstAdmin = first.ClientWithKey(site.AdminKey);
        await ReadJsonAsync(await firstAdmin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { jurisdictionMode = "ccpa" }));
        Assert.Equal("ccpa", (await ReadJsonAsync(await firstAdmin.GetAsync($"/v1/sites/{site.Id}")))["jurisdictionMode"]!.GetValue<string>());
        await EventuallyAsync(async () =>
            (await ReadJsonAsync(await secondAdmin.GetAsync($"/v1/sites/{site.Id}")))["jurisdictionMode"]!.GetValue<string>() == "ccpa");

        using var anonymous = second.CreateClient();
        Assert.Single(await ReadArrayAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies")));
        var template = await ReadJsonAsync(await anonymous.GetAsync("/v1/policy-template"));
        template["purposes"]![1]!["vendors"]!.AsArray().Add(new JsonObject { ["name"] = "Plausible" });
        await ReadJsonAsync(await firstAdmin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", template), HttpStatusCode.Created);
        await EventuallyAsync(async () => (await ReadArrayAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies"))).Count == 2);
        using var checker = second.ClientWithKey(site.CheckKey);
        Assert.True((await ReadJsonAsync(await checker.GetAsync(CheckPath(site.Id, subject))))["needsReconsent"]!.GetValue<bool>());
    }

    /// <summary>
    /// Once both instances hear invalidations: a subject who accepted everything through the first, which
    /// the second then holds as "granted" in its memory (and Redis in its entry).
    /// </summary>
    private static async Task<string> GrantedOnBothAsync(ConsentApiFactory first, ConsentApiFactory second, TestSite site)
    {
        await HearsInvalidationsAsync(first);
        await HearsInvalidationsAsync(second);
        var subject = NewSubjectId();
        await first.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        await EventuallyAsync(() => AnalyticsGrantedAsync(second, site, subject));
        return subject;
    }

    private static async Task WithdrawnWithinAsync(ConsentApiFactory app, TestSite site, string subject, TimeSpan bound, string failure)
    {
        var since = Stopwatch.StartNew();
        while (await AnalyticsGrantedAsync(app, site, subject))
        {
            Assert.True(since.Elapsed < bound, failure);
            await Task.Delay(10);
        }
    }

    /// <summary>Until the instance has subscribed to invalidations (its readiness says so).</summary>
    internal static async Task HearsInvalidationsAsync(ConsentApiFactory app)
    {
        var deadline = Stopwatch.StartNew();
        while ((await ReadyAsync(app))["checks"]!["redis"]!["status"]!.GetValue<string>() != "Healthy")
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(5), "The instance did not subscribe to invalidations");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Until <paramref name="condition"/> holds, within a generous 2 s: another instance hears of a write
    /// within 50 ms p99 (measured by <see cref="CrossInstanceStalenessTests"/>), a loaded test machine may be slower once.
    /// </summary>
    internal static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(2), "Another instance did not see the write within 2 s");
            await Task.Delay(5);
        }
    }

    [SkippableFact]
    public async Task A_key_revoked_on_one_instance_is_refused_at_once_there_and_within_the_staleness_bound_on_another()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        using var first = App(RedisServer.Shared!);
        using var second = App(RedisServer.Shared!, first);
        var site = await first.CreateSiteAsync();
        using var admin = first.ClientWithKey(site.AdminKey);
        var issued = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/keys", new { role = "check" }), HttpStatusCode.Created);
        var secret = issued["key"]!.GetValue<string>();
        using var checker = second.ClientWithKey(secret);
        var check = CheckPath(site.Id, NewSubjectId());

        Assert.Equal(HttpStatusCode.OK, (await checker.GetAsync(check)).StatusCode); // the live key is now cached
        await using var redis = await ConnectionMultiplexer.ConnectAsync(RedisServer.Shared!);
        Assert.True(await redis.GetDatabase().KeyExistsAsync($"apikey:{Secrets.Sha256Hex(secret)}"));

        using var sameInstance = first.ClientWithKey(secret);
        Assert.Equal(HttpStatusCode.OK, (await sameInstance.GetAsync(check)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{issued["id"]!.GetValue<string>()}")).StatusCode);
        await AssertProblemAsync(await sameInstance.GetAsync(check), HttpStatusCode.Unauthorized, "unauthorized");
        await EventuallyAsync(async () => (await checker.GetAsync(check)).StatusCode == HttpStatusCode.Unauthorized);
        await AssertProblemAsync(await checker.GetAsync(check), HttpStatusCode.Unauthorized, "unauthorized");

        // Made-up keys are looked up in the store but never cached.
        using var stranger = second.ClientWithKey("csk_made-up-key-0123456789abcdefghijkl");
        await AssertProblemAsync(await stranger.GetAsync(check), HttpStatusCode.Unauthorized, "unauthorized");
        Assert.False(await redis.GetDatabase().KeyExistsAsync("apikey:" + Secrets.Sha256Hex("csk_made-up-key-0123456789abcdefghijkl")));
    }

    [SkippableFact]
    public async Task Redis_stopped_mid_test_never_fails_or_stalls_a_request_and_the_cache_comes_back_without_stale_entries()
    {
        Skip.IfNot(RedisServer.IsInstalled, "redis-server is not installed; ./test.sh installs it.");
        await using var redis = await RedisServer.StartAsync();
        // Generous client timeouts: a request that waited on Redis while it is down would take seconds.
        using var app = App($"{redis.Address},asyncTimeout=5000,syncTimeout=5000,connectTimeout=5000");
        var site = await app.CreateSiteAsync();
        var subject = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        Assert.True(await AnalyticsGrantedAsync(app, site, subject)); // now cached as granted

        await redis.StopAsync(); // SHUTDOWN SAVE: the "granted" entry is in the dump file
        var outage = Stopwatch.StartNew();
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        for (var i = 0; i < 10; i++)
        {
            Assert.False(await AnalyticsGrantedAsync(app, site, subject));
        }
        var other = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = other, policyVersion = 1, method = "accept_all" });
        Assert.True(await AnalyticsGrantedAsync(app, site, other));
        var ready = await ReadyAsync(app);
        outage.Stop();
        Assert.Equal("Degraded", ready["status"]!.GetValue<string>());
        Assert.Equal("Degraded", ready["checks"]!["redis"]!["status"]!.GetValue<string>());
        Assert.Equal("Healthy", ready["checks"]!["store"]!["status"]!.GetValue<string>());
        // 14 requests; one wait on the 5 s Redis timeout would blow this bound.
        Assert.True(outage.Elapsed < TimeSpan.FromSeconds(4), $"Requests waited on Redis: {outage.Elapsed}");

        await redis.StartAsync(default); // comes back with the stale "granted" entry
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await ReadyAsync(app))["checks"]!["redis"]!["status"]!.GetValue<string>() != "Healthy")
        {
            Assert.True(DateTime.UtcNow < deadline, "The service did not reconnect to Redis");
            await Task.Delay(100);
        }
        Assert.False(await AnalyticsGrantedAsync(app, site, subject)); // the withdrawal, not the stale entry

        await using var direct = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var cached = (string?)await direct.GetDatabase().HashGetAsync(await CacheKeyAsync(app, site.Id, subject), "d");
        Assert.NotNull(cached); // the cache is in use again
        Assert.Equal("withdraw", JsonNode.Parse(cached)!["method"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task While_redis_is_down_another_instance_sees_a_write_within_a_second_and_after_it_returns_nobody_reads_what_the_write_replaced()
    {
        Skip.IfNot(RedisServer.IsInstalled, "redis-server is not installed; ./test.sh installs it.");
        await using var redis = await RedisServer.StartAsync();
        var address = $"{redis.Address},asyncTimeout=5000,syncTimeout=5000,connectTimeout=5000";
        using var first = App(address);
        using var second = App(address, first);
        var site = await first.CreateSiteAsync();
        var subject = await GrantedOnBothAsync(first, second, site);

        await redis.StopAsync(); // SHUTDOWN SAVE: "granted" is in the dump file
        await first.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        Assert.False(await AnalyticsGrantedAsync(first, site, subject));
        // No invalidation can reach the second instance: its memory is trusted for a second only, then it reads the store.
        await WithdrawnWithinAsync(second, site, subject, TimeSpan.FromSeconds(3), "The second instance kept answering from memory during the outage");

        await redis.StartAsync(default); // back with the stale "granted" entry
        var deadline = Stopwatch.StartNew();
        foreach (var app in new[] { first, second })
        {
            while ((await ReadyAsync(app))["checks"]!["redis"]!["status"]!.GetValue<string>() != "Healthy")
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "An instance did not reconnect to Redis");
                await Task.Delay(100);
            }
        }
        // The first deleted what its outage write replaced before listening again; the second dropped its memory.
        Assert.False(await AnalyticsGrantedAsync(second, site, subject));
        using var third = App(address, first); // nothing in memory: Redis, then the store
        Assert.False(await AnalyticsGrantedAsync(third, site, subject));
        Assert.False(await AnalyticsGrantedAsync(first, site, subject));
    }

    [SkippableFact]
    public async Task A_write_one_instance_could_not_store_in_redis_is_deleted_there_and_announced_once_it_can_so_no_instance_keeps_what_it_replaced()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        await using var partition = PartitionProxy.Start(RedisServer.Shared!);
        using var cutOff = App(partition.Address); // the service's own short timeouts: a command into the partition fails in 0.5 s
        using var other = App(RedisServer.Shared!, cutOff);
        var site = await cutOff.CreateSiteAsync();
        var subject = await GrantedOnBothAsync(cutOff, other, site);
        var key = await CacheKeyAsync(cutOff, site.Id, subject);

        partition.Cut(); // the first instance still believes it is connected
        await cutOff.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        Assert.False(await AnalyticsGrantedAsync(cutOff, site, subject));
        Assert.True(await AnalyticsGrantedAsync(other, site, subject)); // the write's message was lost with its store in Redis

        partition.Heal();
        await HearsInvalidationsAsync(cutOff); // listening again only once the key is deleted
        await using var direct = await ConnectionMultiplexer.ConnectAsync(RedisServer.Shared!);
        var cached = (string?)await direct.GetDatabase().HashGetAsync(key, "d");
        Assert.True(cached is null || JsonNode.Parse(cached)!["method"]!.GetValue<string>() == "withdraw", $"Redis still holds {cached}");
        await EventuallyAsync(async () => !await AnalyticsGrantedAsync(other, site, subject)); // announced: the other drops "granted"
        using var third = App(RedisServer.Shared!, cutOff); // nothing in memory: Redis, then the store
        Assert.False(await AnalyticsGrantedAsync(third, site, subject));
    }

    [SkippableFact]
    public async Task A_write_redis_refused_is_not_read_back_by_an_instance_that_heard_of_it_and_is_deleted_from_redis_without_more_requests()
    {
        Skip.IfNot(RedisServer.IsInstalled, "redis-server is not installed; ./test.sh installs it.");
        await using var redis = await RedisServer.StartAsync(); // its own: the test makes it refuse writes
        using var first = App(redis.Address);
        using var second = App(redis.Address, first);
        var site = await first.CreateSiteAsync();
        var subject = await GrantedOnBothAsync(first, second, site);
        var key = await CacheKeyAsync(first, site.Id, subject);
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.Address},allowAdmin=true");
        var server = admin.GetServer(redis.Address);
        await server.ConfigSetAsync("maxmemory-policy", "noeviction");
        await server.ConfigSetAsync("maxmemory", "1"); // every write command now fails: OOM; reads, deletes and messages go through

        await first.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        Assert.False(await AnalyticsGrantedAsync(first, site, subject));
        // The second hears of the write, finds in Redis the older value it replaced, and reads the store instead.
        await WithdrawnWithinAsync(second, site, subject, TimeSpan.FromSeconds(1), "The second instance answered with what the write replaced");
        // No request reaches the first instance from here: it deletes the key by itself once its cool-down ends.
        var deadline = Stopwatch.StartNew();
        while ((string?)await admin.GetDatabase().HashGetAsync(key, "d") is { } cached && JsonNode.Parse(cached)!["method"]!.GetValue<string>() != "withdraw")
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(5), "Redis kept what the refused write replaced");
            await Task.Delay(50);
        }
        await server.ConfigSetAsync("maxmemory", "0");
        using var third = App(redis.Address, first); // nothing in memory, heard nothing: Redis, then the store
        Assert.False(await AnalyticsGrantedAsync(third, site, subject));
    }

    [Fact]
    public async Task Redis_unreachable_from_the_start_leaves_the_service_working_and_degraded()
    {
        using var app = App("127.0.0.1:1"); // nothing listens on port 1
        var site = await app.CreateSiteAsync();
        var subject = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        Assert.True(await AnalyticsGrantedAsync(app, site, subject));
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        Assert.False(await AnalyticsGrantedAsync(app, site, subject));

        var ready = await ReadyAsync(app);
        Assert.Equal("Degraded", ready["status"]!.GetValue<string>());
        Assert.Equal("Healthy", ready["checks"]!["store"]!["status"]!.GetValue<string>());
    }
}
