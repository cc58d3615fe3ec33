using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using ConsentService.Caching;
using ConsentService.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Xunit.Abstractions;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Caching;

/// <summary>The read-cache contract for the first level in memory in front of Redis.</summary>
public sealed class TwoLevelReadCacheTests : ReadCacheContract
{
    private ConnectionMultiplexer? _redis;
    private TwoLevelReadCache? _cache;

    protected override async Task<IReadCache?> CreateCacheAsync()
    {
        if (RedisServer.Shared is not { } address)
        {
            return null;
        }
        (_redis, _cache) = await TwoLevelInstances.StartAsync(address);
        return _cache;
    }

    protected override async Task DisposeCacheAsync()
    {
        _cache?.Dispose();
        if (_redis is not null) await _redis.DisposeAsync();
    }
}

internal static class TwoLevelInstances
{
    /// <summary>An instance's cache on its own connection, once it hears invalidations.</summary>
    public static async Task<(ConnectionMultiplexer, TwoLevelReadCache)> StartAsync(string address, long firstLevelEntries = BoundedMemory.Entries)
    {
        var redis = await ConnectionMultiplexer.ConnectAsync(RedisReadCache.Options(address));
        var cache = new TwoLevelReadCache(new RedisReadCache(redis, NullLogger<RedisReadCache>.Instance), redis, NullLogger<TwoLevelReadCache>.Instance, firstLevelEntries);
        var deadline = Stopwatch.StartNew();
        while (!cache.HearsInvalidations)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(5), "The cache did not subscribe to invalidations");
            await Task.Delay(10);
        }
        return (redis, cache);
    }
}

/// <summary>Two instances' caches (two connections, one Redis): a write on one, a slow fill on the other.</summary>
public sealed class TwoLevelResurrectionTests
{
    public sealed record Value(string Text, long Version);

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_slow_fill_on_one_instance_cannot_bring_back_what_a_write_on_another_replaced_on_either_level(bool erasure)
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        await using var instances = await WriterAndReader.StartAsync();
        var (redisA, writer, reader) = (instances.WriterRedis, instances.Writer, instances.Reader);
        var slot = new CacheSlot<Value>("resurrection:" + Guid.NewGuid().ToString("N"), v => v?.Version ?? 0);

        var (slowRead, releaseLoad) = await SlowReadAsync(reader, slot);

        // An erasure stores "absent" as of the erased record's own version: equal, not newer.
        if (erasure)
        {
            await writer.SetAsync(slot, null, default, version: 1);
        }
        else
        {
            await writer.SetAsync(slot, new Value("the write", 2), default);
        }
        Assert.Equal(erasure ? null : "the write", (await writer.GetOrLoadAsync(slot, Never, default))?.Text); // the writer: at once
        await Task.Delay(300); // the invalidation reaches the reader (within milliseconds)

        releaseLoad.SetResult();
        Assert.Equal("read before the write", (await slowRead)!.Text); // began before the write: may answer what it read

        // Neither the reader's memory nor Redis kept the slow fill.
        Assert.Equal(erasure ? null : "the write", (await reader.GetOrLoadAsync(slot, Never, default))?.Text);
        var stored = await redisA.GetDatabase().HashGetAsync(slot.Key, ["v", "d"]);
        Assert.Equal(erasure ? 1 : 2, (long)stored[0]);
        Assert.DoesNotContain("read before the write", (string?)stored[1]);
    }

    [SkippableFact]
    public async Task A_full_first_level_gives_up_values_before_the_marker_that_keeps_a_slow_fill_out()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        const int capacity = 100;
        await using var instances = await WriterAndReader.StartAsync(readerFirstLevelEntries: capacity);
        var (writer, reader) = (instances.Writer, instances.Reader);
        var prefix = "full:" + Guid.NewGuid().ToString("N");
        var slot = new CacheSlot<Value>(prefix, v => v?.Version ?? 0);

        var (slowRead, releaseLoad) = await SlowReadAsync(reader, slot);
        await writer.SetAsync(slot, new Value("the write", 2), default);
        await Task.Delay(300); // the invalidation reaches the reader and leaves its marker there

        // Each used after the marker, so the marker is the least recently used entry: over capacity, the first level
        // compacts (a quarter at a time), and only its priority keeps it.
        async Task FillAsync(int from, int count)
        {
            for (var i = from; i < from + count; i++)
            {
                await reader.GetOrLoadAsync(new CacheSlot<Value>($"{prefix}:{i}", v => v?.Version ?? 0), _ => Task.FromResult<Value?>(new Value("filler", 1)), default);
            }
        }
        await FillAsync(0, capacity * 3 / 2);
        await Task.Delay(300); // the compaction runs on the thread pool
        await FillAsync(capacity * 3 / 2, capacity / 2);

        releaseLoad.SetResult();
        await slowRead;
        Assert.Equal("the write", (await reader.GetOrLoadAsync(slot, Never, default))?.Text);
    }

    private static Task<Value?> Never(CancellationToken _) => throw new InvalidOperationException("Expected a cache hit");

    /// <summary>A read on <paramref name="reader"/> whose load has read "read before the write" and waits to be released.</summary>
    private static async Task<(Task<Value?> Read, TaskCompletionSource Release)> SlowReadAsync(TwoLevelReadCache reader, CacheSlot<Value> slot)
    {
        var loadStarted = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var read = reader.GetOrLoadAsync(slot, async _ =>
        {
            loadStarted.SetResult();
            await release.Task;
            return new Value("read before the write", 1);
        }, default);
        await loadStarted.Task;
        return (read, release);
    }

    /// <summary>Two instances' caches, each on its own connection to the shared Redis.</summary>
    private sealed record WriterAndReader(ConnectionMultiplexer WriterRedis, TwoLevelReadCache Writer, ConnectionMultiplexer ReaderRedis, TwoLevelReadCache Reader)
        : IAsyncDisposable
    {
        public static async Task<WriterAndReader> StartAsync(long readerFirstLevelEntries = BoundedMemory.Entries)
        {
            var (writerRedis, writer) = await TwoLevelInstances.StartAsync(RedisServer.Shared!);
            var (readerRedis, reader) = await TwoLevelInstances.StartAsync(RedisServer.Shared!, readerFirstLevelEntries);
            return new(writerRedis, writer, readerRedis, reader);
        }

        public async ValueTask DisposeAsync()
        {
            Writer.Dispose();
            Reader.Dispose();
            await WriterRedis.DisposeAsync();
            await ReaderRedis.DisposeAsync();
        }
    }
}

/// <summary>A latency measured in milliseconds: run alone, not beside the rest of the suite in this process.</summary>
[CollectionDefinition(nameof(MeasuredAlone), DisableParallelization = true)]
public sealed class MeasuredAlone;

/// <summary>Two app instances (one database, one Redis): how long a write takes to reach the other.</summary>
[Collection(nameof(MeasuredAlone))]
public sealed class CrossInstanceStalenessTests(ITestOutputHelper output)
{
    private const int Writes = 200;

    private static ConsentApiFactory App(string redis, ConsentApiFactory? sharesDatabaseWith = null) => new()
    {
        SharesDatabaseWith = sharesDatabaseWith,
        Settings = new Dictionary<string, string> { ["ConnectionStrings:Redis"] = redis, ["RateLimits:Enabled"] = "false" },
    };

    [SkippableFact]
    public async Task Every_write_is_seen_at_once_by_its_instance_and_by_the_other_within_50_ms_p99()
    {
        Skip.If(RedisServer.Shared is null, RedisServer.SkipReason);
        using var first = App(RedisServer.Shared!);
        using var second = App(RedisServer.Shared!, first);
        var site = await first.CreateSiteAsync();
        var subject = NewSubjectId();
        using var writerChecks = first.ClientWithKey(site.CheckKey);
        using var otherChecks = second.ClientWithKey(site.CheckKey);
        var path = $"/v1/sites/{site.Id}/subjects/{subject}/consent?purpose=analytics";
        async Task<bool> GrantedAsync(HttpClient client) =>
            (await ReadJsonAsync(await client.GetAsync(path)))["granted"]!.GetValue<bool>();

        await first.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "reject_all" });
        Assert.False(await GrantedAsync(otherChecks));
        var lags = new List<double>(Writes);
        for (var i = 0; i < Writes; i++)
        {
            var grant = i % 2 == 0; // each write flips what the other instance holds in memory
            await first.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = grant ? "accept_all" : "reject_all" });
            var since = Stopwatch.StartNew();
            Assert.Equal(grant, await GrantedAsync(writerChecks));
            while (await GrantedAsync(otherChecks) != grant)
            {
                Assert.True(since.Elapsed < TimeSpan.FromSeconds(2), $"Write {i} did not reach the other instance within 2 s");
                await Task.Delay(1); // leave the cores to the instances (a busy loop of checks would delay the message it waits for)
            }
            lags.Add(since.Elapsed.TotalMilliseconds);
        }

        // For scale: what one cached check costs on the other instance, on this machine, now.
        var hits = new List<double>(Writes);
        for (var i = 0; i < Writes; i++)
        {
            var one = Stopwatch.StartNew();
            await GrantedAsync(otherChecks);
            hits.Add(one.Elapsed.TotalMilliseconds);
        }

        static double Percentile(List<double> values, double p)
        {
            values.Sort();
            return values[(int)Math.Ceiling(p * values.Count) - 1];
        }
        var (p50, p99) = (Percentile(lags, 0.5), Percentile(lags, 0.99));
        output.WriteLine($"cross-instance staleness over {Writes} writes: p50 {p50:F2} ms, p99 {p99:F2} ms, max {lags[^1]:F2} ms; " +
            $"one cached check on the other instance: p50 {Percentile(hits, 0.5):F2} ms, p99 {Percentile(hits, 0.99):F2} ms");
        Assert.True(p99 <= 50, $"p99 {p99:F1} ms > 50 ms (p50 {p50:F1} ms; a cached check alone: p99 {Percentile(hits, 0.99):F1} ms)");
    }
}

/// <summary><c>Cache-Control: no-cache</c> on a check reads through to the store, with or without Redis.</summary>
public sealed class CheckReadThroughTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_check_with_no_cache_reads_the_store_while_a_plain_check_is_answered_from_the_cache(bool redis)
    {
        Skip.If(redis && RedisServer.Shared is null, RedisServer.SkipReason);
        using var app = new ConsentApiFactory
        {
            Settings = redis ? new Dictionary<string, string> { ["ConnectionStrings:Redis"] = RedisServer.Shared! } : new Dictionary<string, string>(),
        };
        var site = await app.CreateSiteAsync();
        var subject = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        using var checker = app.ClientWithKey(site.CheckKey);
        var path = $"/v1/sites/{site.Id}/subjects/{subject}/consent?purpose=analytics";
        async Task<bool> GrantedAsync(bool noCache)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (noCache) request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
            return (await ReadJsonAsync(await checker.SendAsync(request)))["granted"]!.GetValue<bool>();
        }
        Assert.True(await GrantedAsync(noCache: false));

        // Behind the cache's back: the store now says "refused"; no write went through the service.
        Assert.Equal(1, await app.ExecuteSqlAsync(
            "UPDATE consents SET purposes = json_set(purposes, '$.analytics', json('false')) WHERE site_id = $site", ("$site", site.Id)));

        Assert.True(await GrantedAsync(noCache: false)); // cached
        Assert.False(await GrantedAsync(noCache: true)); // the store
        // Other directives do not bypass the cache.
        using var maxAge = new HttpRequestMessage(HttpMethod.Get, path);
        maxAge.Headers.CacheControl = new CacheControlHeaderValue { MaxAge = TimeSpan.FromSeconds(60) };
        Assert.True((await ReadJsonAsync(await checker.SendAsync(maxAge)))["granted"]!.GetValue<bool>());

        // A malformed header is a plain check, not an error.
        using var odd = new HttpRequestMessage(HttpMethod.Get, path);
        odd.Headers.TryAddWithoutValidation("Cache-Control", "no-cache=\"unterminated");
        Assert.Equal(HttpStatusCode.OK, (await checker.SendAsync(odd)).StatusCode);
    }
}
