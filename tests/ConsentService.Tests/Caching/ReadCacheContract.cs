using ConsentService.Caching;
using ConsentService.Tests.Infrastructure;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace ConsentService.Tests.Caching;

/// <summary>What every read cache must do, run against the in-memory cache and against real Redis.</summary>
public abstract class ReadCacheContract : IAsyncLifetime
{
    public sealed record Value(string Text, long Version);

    private IReadCache? _cache;
    private readonly string _prefix = "contract:" + Guid.NewGuid().ToString("N") + ":";

    protected IReadCache Cache
    {
        get
        {
            Skip.If(_cache is null, RedisServer.SkipReason);
            return _cache!;
        }
    }

    /// <summary>A new cache, or null when its server is not available here.</summary>
    protected abstract Task<IReadCache?> CreateCacheAsync();

    protected virtual Task DisposeCacheAsync() => Task.CompletedTask;

    public async Task InitializeAsync() => _cache = await CreateCacheAsync();

    public Task DisposeAsync() => DisposeCacheAsync();

    private CacheSlot<Value> Slot(string name) => new(_prefix + name, v => v?.Version ?? 0);

    [SkippableFact]
    public async Task A_miss_loads_once_and_later_reads_are_hits()
    {
        var loads = 0;
        Task<Value?> Load(CancellationToken _) { loads++; return Task.FromResult<Value?>(new("v1", 1)); }

        Assert.Equal(new Value("v1", 1), await Cache.GetOrLoadAsync(Slot("a"), Load, default));
        Assert.Equal(new Value("v1", 1), await Cache.GetOrLoadAsync(Slot("a"), Load, default));
        Assert.Equal(1, loads);
    }

    [SkippableFact]
    public async Task Absence_is_cached_too_until_a_writer_stores_a_value()
    {
        var loads = 0;
        Task<Value?> Load(CancellationToken _) { loads++; return Task.FromResult<Value?>(null); }

        Assert.Null(await Cache.GetOrLoadAsync(Slot("none"), Load, default));
        Assert.Null(await Cache.GetOrLoadAsync(Slot("none"), Load, default));
        Assert.Equal(1, loads);

        await Cache.SetAsync(Slot("none"), new Value("written", 1), default);
        Assert.Equal(new Value("written", 1), await Cache.GetOrLoadAsync(Slot("none"), Load, default));
    }

    [SkippableFact]
    public async Task A_writer_replaces_an_older_or_equal_version_but_not_a_newer_one()
    {
        await Cache.SetAsync(Slot("w"), new Value("v2", 2), default);
        await Cache.SetAsync(Slot("w"), new Value("v2 again", 2), default);
        Assert.Equal("v2 again", (await Cache.GetOrLoadAsync(Slot("w"), Never, default))!.Text);

        await Cache.SetAsync(Slot("w"), new Value("v1", 1), default);
        Assert.Equal("v2 again", (await Cache.GetOrLoadAsync(Slot("w"), Never, default))!.Text);
    }

    [SkippableFact]
    public async Task A_slow_load_that_read_the_store_before_a_write_does_not_bring_back_the_old_value()
    {
        var loadStarted = new TaskCompletionSource();
        var releaseLoad = new TaskCompletionSource();
        var slowRead = Cache.GetOrLoadAsync(Slot("race"), async _ =>
        {
            loadStarted.SetResult();
            await releaseLoad.Task;
            return new Value("before the write", 1);
        }, default);
        await loadStarted.Task;

        await Cache.SetAsync(Slot("race"), new Value("the write", 2), default);
        // A reader arriving after the write sees it, and does not join the load still running.
        Assert.Equal("the write", (await Cache.GetOrLoadAsync(Slot("race"), Never, default))!.Text);

        releaseLoad.SetResult();
        Assert.Equal("before the write", (await slowRead)!.Text);
        Assert.Equal("the write", (await Cache.GetOrLoadAsync(Slot("race"), Never, default))!.Text);
    }

    [SkippableFact]
    public async Task Concurrent_misses_of_a_cold_key_share_one_load()
    {
        var loads = 0;
        var release = new TaskCompletionSource();
        async Task<Value?> Load(CancellationToken _)
        {
            Interlocked.Increment(ref loads);
            await release.Task;
            return new Value("loaded", 1);
        }

        var readers = Enumerable.Range(0, 50).Select(_ => Task.Run(() => Cache.GetOrLoadAsync(Slot("cold"), Load, default))).ToList();
        await Task.Delay(200); // let every reader miss and queue behind the first load
        release.SetResult();
        var values = await Task.WhenAll(readers);

        Assert.All(values, v => Assert.Equal("loaded", v!.Text));
        Assert.Equal(1, loads);
    }

    private static Task<Value?> Never(CancellationToken _) => throw new InvalidOperationException("Expected a cache hit");
}

public sealed class MemoryReadCacheTests : ReadCacheContract
{
    protected override Task<IReadCache?> CreateCacheAsync() =>
        Task.FromResult<IReadCache?>(new MemoryReadCache(new MemoryCache(new MemoryCacheOptions { SizeLimit = 1000 })));
}

public sealed class RedisReadCacheTests : ReadCacheContract
{
    private ConnectionMultiplexer? _redis;

    protected override async Task<IReadCache?> CreateCacheAsync()
    {
        if (RedisServer.Shared is not { } address)
        {
            return null;
        }
        _redis = await ConnectionMultiplexer.ConnectAsync(RedisReadCache.Options(address));
        return new RedisReadCache(_redis, NullLogger<RedisReadCache>.Instance);
    }

    protected override async Task DisposeCacheAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
    }
}
