using System.Collections.Concurrent;
using System.Text.Json;
using ConsentService.Infrastructure;
using Microsoft.Extensions.Caching.Memory;
using StackExchange.Redis;

namespace ConsentService.Caching;

/// <summary>
/// The read cache shared by every instance, in Redis. Redis is an accelerator, never a dependency:
/// while it is unreachable (disconnected, or a command just failed) requests go straight to the
/// store without waiting on a timeout, and the cache comes back by itself when Redis does.
/// </summary>
public sealed partial class RedisReadCache : IReadCache, IDisposable
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);
    /// <summary>After a failed command, how long requests skip Redis before trying it again.</summary>
    private static readonly TimeSpan CoolDown = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Stores (version, data) unless the key holds a newer version; a writer also replaces an equal
    /// one. KEYS[1]: key. ARGV: version, data, ttl in ms, 1 for a writer.
    /// </summary>
    private const string SetIfNewer = """
        local current = tonumber(redis.call('HGET', KEYS[1], 'v'))
        local version = tonumber(ARGV[1])
        if current and (current > version or (current == version and ARGV[4] == '0')) then return 0 end
        redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """;

    private readonly SingleFlight _loads = new();
    /// <summary>
    /// Keys written while Redis was unreachable, with the version written: Redis may still hold what
    /// those writes replaced, so they are deleted before this instance reads from Redis again, and in
    /// the background as soon as Redis can be reached (another instance may read them before that).
    /// </summary>
    private readonly ConcurrentDictionary<string, Unsynced> _unsynced = new(StringComparer.Ordinal);
    /// <summary><paramref name="Stamp"/> tells a key written again during a resync from the entry that resync deleted.</summary>
    private sealed record Unsynced(long Version, long Stamp);
    private long _unsyncedStamp;
    /// <summary>Deletes the keys written while Redis was unreachable once it can be reached, without waiting for a read.</summary>
    private readonly BackgroundRetry _resync;
    private readonly CancellationTokenSource _disposed = new();
    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<RedisReadCache> _log;
    private long _skipUntil;

    public RedisReadCache(IConnectionMultiplexer redis, ILogger<RedisReadCache> log)
    {
        (_redis, _log) = (redis, log);
        _resync = new(ResyncAsync, () => !_unsynced.IsEmpty, TimeSpan.FromMilliseconds(200), _disposed.Token);
    }

    /// <summary>
    /// A key written while Redis was unreachable has been deleted from it, with the version written then:
    /// the write's own invalidation may have reached nobody, so the first level announces it now.
    /// </summary>
    internal event Action<string, long>? Resynced;

    /// <summary>
    /// Client settings for a cache: short timeouts, no waiting for a connection (commands fail at
    /// once while disconnected), and reconnect attempts every second. The connection string may
    /// override the timeouts.
    /// </summary>
    public static ConfigurationOptions Options(string connectionString)
    {
        var options = ConfigurationOptions.Parse("connectTimeout=1000,asyncTimeout=500,syncTimeout=500,abortConnect=false," + connectionString);
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ReconnectRetryPolicy = new LinearRetry(1000);
        // Replies continue on the .NET thread pool, not on the library's own dedicated threads: on a small machine those
        // spin for work beside the request threads (a profile of writes put a fifth of the process's CPU there).
        options.SocketManager = SocketManager.ThreadPool;
        return options;
    }

    public async Task<T?> GetOrLoadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class =>
        (await GetOrLoadVersionedAsync(slot, load, long.MinValue, ct)).Value;

    /// <summary>
    /// The value and its version: the one stored beside it in Redis (a writer may have stored "absent"
    /// as of a version, see <see cref="IReadCache.SetAsync{T}"/>), else the slot's for a fresh load.
    /// The first level (<see cref="TwoLevelReadCache"/>) orders its own entries by it.
    /// An entry older than <paramref name="heard"/>, a write the caller heard of, is what that write
    /// replaced (it could not store its own value here): a miss, and the load replaces it.
    /// </summary>
    internal async Task<Versioned<T>> GetOrLoadVersionedAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, long heard, CancellationToken ct) where T : class
    {
        var db = await AvailableAsync();
        if (db is not null)
        {
            try
            {
                var hit = await db.HashGetAsync(slot.Key, VersionAndData);
                if (hit is [{ HasValue: true } version, { HasValue: true } data] && (long)version >= heard)
                {
                    return new(Decode<T>(slot.Key, data), (long)version);
                }
            }
            catch (Exception e) when (IsRedisFailure(e))
            {
                Skip(e);
                db = null;
            }
        }
        return await _loads.RunAsync(slot.Key, async () =>
        {
            var value = await load(CancellationToken.None);
            var version = slot.Version(value);
            if (db is not null && (value is not null || slot.KeepAbsent))
            {
                await TryStoreAsync(db, slot, value, version, writer: false);
            }
            return new Versioned<T>(value, version);
        }, ct) ?? throw new InvalidOperationException("A load always returns a version.");
    }

    public async Task<T?> ReloadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class
    {
        var value = await load(ct);
        if ((value is not null || slot.KeepAbsent) && await AvailableAsync() is { } db)
        {
            await TryStoreAsync(db, slot, value, slot.Version(value), writer: false);
        }
        return value;
    }

    private static readonly RedisValue[] VersionAndData = ["v", "d"];

    /// <summary>
    /// The value of a hit. Hot entries (a site, its policy versions) are read on every request: when
    /// the bytes equal those decoded last time for the key, the object decoded then is returned
    /// (cached values are immutable and shared, as in the in-memory cache) instead of parsing again.
    /// </summary>
    private T? Decode<T>(string key, RedisValue hit) where T : class
    {
        ReadOnlyMemory<byte> raw = hit;
        if (_decoded.TryGetValue(key, out Decoded? known) && known is not null && raw.Span.SequenceEqual(known.Raw))
        {
            return (T?)known.Value;
        }
        var value = JsonSerializer.Deserialize<T>(raw.Span, JsonDefaults.Options);
        _decoded.Set(key, new Decoded(raw.ToArray(), value), DecodedEntry);
        return value;
    }

    private sealed record Decoded(byte[] Raw, object? Value);

    private static readonly MemoryCacheEntryOptions DecodedEntry = new() { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(1) };
    private readonly MemoryCache _decoded = new(BoundedMemory.Options(10_000));

    public void Dispose()
    {
        _disposed.Cancel();
        _decoded.Dispose();
    }

    public async Task SetAsync<T>(CacheSlot<T> slot, T? value, CancellationToken ct, long? version = null) where T : class
    {
        _loads.Forget(slot.Key);
        var stored = version ?? slot.Version(value);
        var db = await AvailableAsync();
        if (db is null || !await TryStoreAsync(db, slot, value, stored, writer: true))
        {
            _unsynced[slot.Key] = new(stored, Interlocked.Increment(ref _unsyncedStamp));
            _resync.Start();
        }
    }

    private async Task<bool> TryStoreAsync<T>(IDatabase db, CacheSlot<T> slot, T? value, long version, bool writer) where T : class
    {
        try
        {
            await db.ScriptEvaluateAsync(SetIfNewer, [slot.Key],
                [version, JsonSerializer.SerializeToUtf8Bytes(value, JsonDefaults.Options), (long)Ttl.TotalMilliseconds, writer ? 1 : 0]);
            return true;
        }
        catch (Exception e) when (IsRedisFailure(e))
        {
            Skip(e);
            return false;
        }
    }

    /// <summary>
    /// Deletes now, not at the next use, the keys written while Redis was unreachable (on a reconnect).
    /// False when that could not be done yet (still cooling down after a failure, or the delete failed).
    /// </summary>
    internal async Task<bool> ResyncAsync() => await AvailableAsync() is not null;

    /// <summary>The database when Redis can be used now, after deleting what went stale while it could not; else null.</summary>
    private async Task<IDatabase?> AvailableAsync()
    {
        if (!_redis.IsConnected || Environment.TickCount64 < Volatile.Read(ref _skipUntil))
        {
            return null;
        }
        var db = _redis.GetDatabase();
        if (_unsynced.IsEmpty)
        {
            return db;
        }
        var stale = _unsynced.ToArray();
        try
        {
            await db.KeyDeleteAsync([.. stale.Select(e => (RedisKey)e.Key)]);
        }
        catch (Exception e) when (IsRedisFailure(e))
        {
            Skip(e);
            return null;
        }
        foreach (var entry in stale)
        {
            _unsynced.TryRemove(entry); // unless written again meanwhile
            Resynced?.Invoke(entry.Key, entry.Value.Version);
        }
        LogResynced(stale.Length);
        return db;
    }

    private void Skip(Exception e)
    {
        Volatile.Write(ref _skipUntil, Environment.TickCount64 + (long)CoolDown.TotalMilliseconds);
        LogSkipping(e.GetType().Name, e.Message);
    }

    /// <summary>
    /// Whether a Redis call failed for a reason of Redis or the connection, which the caches answer by reading the
    /// store. Besides its own exceptions and timeouts, StackExchange.Redis answers a command it never sent with
    /// <see cref="TaskCanceledException"/>: with <see cref="BacklogPolicy.FailFast"/> while a connection is down or
    /// reconnecting (a moment after <see cref="IConnectionMultiplexer.IsConnected"/> said yes), or when its turn to
    /// write did not come within the timeout on a busy machine. No call here hands it a cancellation token, so such a
    /// cancellation is never the caller's. <see cref="ObjectDisposedException"/>: the connection closed at shutdown.
    /// </summary>
    internal static bool IsRedisFailure(Exception e) => e is RedisException or TimeoutException or TaskCanceledException or ObjectDisposedException;

    [LoggerMessage(LogLevel.Warning, "Redis failed ({Kind}: {Message}); reading from the store for a while")]
    private partial void LogSkipping(string kind, string message);

    [LoggerMessage(LogLevel.Information, "Redis is back; deleted {Count} entries written while it was unreachable")]
    private partial void LogResynced(int count);
}
