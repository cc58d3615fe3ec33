using System.Globalization;
using Microsoft.Extensions.Caching.Memory;
using StackExchange.Redis;

namespace ConsentService.Caching;

/// <summary>
/// The read cache of an instance when Redis is configured: a first level in this process in front of
/// the shared second level in Redis (<see cref="RedisReadCache"/>). A hit in memory costs no round trip.
/// <para>
/// Kept true across instances by a backplane: after a writer has stored a value in both levels, it
/// publishes (key, version) on a Redis channel, and every other instance drops its first-level entry
/// of that key unless it holds a newer version. The dropped entry leaves a marker with the version, so
/// that a fill which read the old value before the message arrived cannot put it back ("a slow fill
/// cannot bring back what a write replaced", on both levels): a fill is kept only when its version is
/// newer than the marker's, or equal and it started after the marker was set.
/// </para>
/// <para>
/// Why this is written by hand and not FusionCache (evaluated, 2.9.0 with its StackExchange.Redis
/// backplane) or Microsoft.Extensions.Caching.StackExchangeRedis: both order entries by when they were
/// set, not by what they hold. FusionCache stamps an entry with the clock of the node that set it and
/// keeps a memory entry whose stamp is newer than a backplane message, so a factory that read the store
/// before a write but finished after it wins; its distributed level, and RedisCache, write with an
/// unconditional set, so the same slow fill overwrites Redis too. The guarantee needs the record's
/// position (or the site's update time) as the version, compared where the value is stored: the Lua
/// set in <see cref="RedisReadCache"/> and <see cref="Fill"/> here. The pub/sub itself is a few lines
/// of the StackExchange.Redis client the service already holds.
/// </para>
/// <para>
/// Redis unreachable: no message can arrive, so a first-level entry is trusted for
/// <see cref="OutageTrust"/> only, and answers come from memory and the store. When the connection and
/// the subscription are back, every first-level entry is dropped (once at once, and once more a moment
/// later for messages published while the subscription was being restored): any of them may have been
/// replaced on another instance during the gap. A write this instance could not store in Redis (it was
/// cut off while others were not, or a command failed) is deleted there and announced again once Redis
/// can be reached: its own message may have reached nobody, and the others still listen.
/// </para>
/// </summary>
public sealed partial class TwoLevelReadCache : IReadCache, IDisposable
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("consent-cache:invalidations");

    /// <summary>A backstop: an entry is reloaded from Redis after this even if no message came (one lost while connected).</summary>
    private static readonly MemoryCacheEntryOptions ValueEntry = new() { Size = 1, AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(60) };
    /// <summary>
    /// A marker only has to outlive the loads that were running when it was set. A full cache gives up values
    /// before markers: a value is loaded again, a marker gone early would let such a load put back what it replaced.
    /// </summary>
    private static readonly MemoryCacheEntryOptions MarkerEntry = new()
    {
        Size = 1, AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(30), Priority = CacheItemPriority.High,
    };
    /// <summary>How long a first-level entry is served while invalidations cannot arrive (Redis unreachable).</summary>
    public static readonly TimeSpan OutageTrust = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ResubscribeSettle = TimeSpan.FromSeconds(1);
    /// <summary>How often an instance that does not listen tries again to.</summary>
    private static readonly TimeSpan RestoreRetry = TimeSpan.FromMilliseconds(100);

    /// <summary>A value (or a marker: <paramref name="Invalidated"/>) with its version and when it was stored (a <see cref="_clock"/> tick).</summary>
    private sealed record Entry(object? Value, long Version, long Stamp, long StoredAtMs, bool Invalidated) : HeldValue(Value);

    private readonly RedisReadCache _shared;
    private readonly IConnectionMultiplexer _redis;
    private readonly ISubscriber _subscriber;
    private readonly ILogger<TwoLevelReadCache> _log;
    private readonly MemoryCache _memory;
    private readonly SingleFlight _loads = new();
    private readonly Lock _gate = new();
    /// <summary>Names this instance in its messages, so that it skips its own.</summary>
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private readonly Action<RedisChannel, RedisValue> _onMessage;

    /// <summary>Orders stores, markers, clears and the start of loads within this instance.</summary>
    private long _clock;
    /// <summary>The tick of the last clear: a load that started before it is not kept.</summary>
    private long _clearedAt;
    /// <summary>Subscribed and connected: invalidations arrive, entries are trusted until replaced.</summary>
    private volatile bool _listening;
    /// <summary>Until this instance listens again (<see cref="TryListenAsync"/>), every <see cref="RestoreRetry"/>.</summary>
    private readonly BackgroundRetry _restore;
    private bool _subscribed;
    private bool _listenedBefore;
    /// <summary>Connection failures seen: one during an attempt to listen fails the attempt.</summary>
    private long _failures;
    private readonly CancellationTokenSource _disposed = new();

    /// <param name="firstLevelEntries">How many entries the first level holds (a test fills a small one).</param>
    public TwoLevelReadCache(RedisReadCache shared, IConnectionMultiplexer redis, ILogger<TwoLevelReadCache> log, long firstLevelEntries = BoundedMemory.Entries)
    {
        (_shared, _redis, _log) = (shared, redis, log);
        _memory = new(BoundedMemory.Options(firstLevelEntries));
        _subscriber = redis.GetSubscriber();
        _onMessage = OnMessage;
        redis.ConnectionFailed += OnConnectionFailed;
        shared.Resynced += Publish;
        _restore = new(TryListenAsync, () => !_listening, RestoreRetry, _disposed.Token);
        _restore.Start();
    }

    /// <summary>Subscribed and connected: another instance's write reaches this one's memory.</summary>
    public bool HearsInvalidations => _listening;

    /// <summary>A hit in memory returns at once; only a miss pays for the load's closure and state machine.</summary>
    public Task<T?> GetOrLoadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class =>
        _memory.TryGetValue(slot.Key, out Entry? hit) && hit is { Invalidated: false } && Trusted(hit)
            ? hit.Answer<T>()
            : LoadAsync(slot, load, ct);

    /// <summary>Apart from <see cref="GetOrLoadAsync{T}"/>: a lambda's captured parameters are allocated where the method starts.</summary>
    private Task<T?> LoadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class =>
        _loads.RunAsync(slot.Key, async () =>
        {
            var started = Interlocked.Increment(ref _clock);
            var loaded = await _shared.GetOrLoadVersionedAsync(slot, load, HeardVersion(slot.Key), CancellationToken.None);
            if (loaded.Value is not null || slot.KeepAbsent)
            {
                Fill(slot.Key, loaded.Value, loaded.Version, started);
            }
            return loaded.Value;
        }, ct);

    public async Task SetAsync<T>(CacheSlot<T> slot, T? value, CancellationToken ct, long? version = null) where T : class
    {
        var stored = version ?? slot.Version(value);
        lock (_gate)
        {
            // The writing instance sees its write at once; a writer replaces an equal version (an erasure's "absent").
            if (!(_memory.TryGetValue(slot.Key, out Entry? current) && current is not null && current.Version > stored))
            {
                _memory.Set(slot.Key, new Entry(value, stored, Interlocked.Increment(ref _clock), Environment.TickCount64, false), ValueEntry);
            }
        }
        _loads.Forget(slot.Key);
        // Redis first, then the message: an instance that reloads on the message finds the new value there.
        await _shared.SetAsync(slot, value, ct, stored);
        Publish(slot.Key, stored);
    }

    public async Task<T?> ReloadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class
    {
        var started = Interlocked.Increment(ref _clock);
        var value = await _shared.ReloadAsync(slot, load, ct);
        if (value is not null || slot.KeepAbsent)
        {
            Fill(slot.Key, value, slot.Version(value), started);
        }
        return value;
    }

    /// <summary>
    /// Keeps a reader's value unless the entry holds a newer version, the same version as a value, or
    /// the same version as a marker set after this load started (it may have read what the write replaced).
    /// </summary>
    private void Fill(string key, object? value, long version, long started)
    {
        lock (_gate)
        {
            if (started <= _clearedAt)
            {
                return;
            }
            if (_memory.TryGetValue(key, out Entry? current) && current is not null
                && (current.Version > version || (current.Version == version && (!current.Invalidated || current.Stamp > started))))
            {
                return;
            }
            _memory.Set(key, new Entry(value, version, Interlocked.Increment(ref _clock), Environment.TickCount64, false), ValueEntry);
        }
    }

    /// <summary>The version of the last write another instance announced for <paramref name="key"/>, while its marker lives.</summary>
    private long HeardVersion(string key) =>
        _memory.TryGetValue(key, out Entry? current) && current is { Invalidated: true } ? current.Version : long.MinValue;

    /// <summary>Another instance stored <paramref name="version"/> of <paramref name="key"/>: drop anything not newer.</summary>
    private void Invalidate(string key, long version)
    {
        lock (_gate)
        {
            if (_memory.TryGetValue(key, out Entry? current) && current is not null && current.Version > version)
            {
                return;
            }
            _memory.Set(key, new Entry(null, version, Interlocked.Increment(ref _clock), Environment.TickCount64, true), MarkerEntry);
        }
        _loads.Forget(key);
    }

    private void Clear()
    {
        lock (_gate)
        {
            _clearedAt = Interlocked.Increment(ref _clock);
            _memory.Clear();
        }
    }

    private bool Trusted(Entry hit) =>
        _listening || (hit.Stamp > Volatile.Read(ref _clearedAt) && Environment.TickCount64 - hit.StoredAtMs < OutageTrust.TotalMilliseconds);

    /// <summary>Message: "{instance} {version} {key}" (keys contain no space: site ids, hashes, base64url).</summary>
    private void Publish(string key, long version)
    {
        if (!_redis.IsConnected)
        {
            return; // nobody can hear it; the others drop everything when they reconnect
        }
        try
        {
            _subscriber.Publish(Channel, $"{_instance} {version.ToString(CultureInfo.InvariantCulture)} {key}", CommandFlags.FireAndForget);
        }
        catch (Exception e) when (RedisReadCache.IsRedisFailure(e))
        {
            LogPublishFailed(e.GetType().Name, e.Message);
        }
    }

    private void OnMessage(RedisChannel channel, RedisValue message)
    {
        var text = (string?)message;
        var parts = text?.Split(' ', 3);
        if (parts is not [var source, var version, var key] || source == _instance
            || !long.TryParse(version, NumberStyles.Integer, CultureInfo.InvariantCulture, out var stored))
        {
            return;
        }
        Invalidate(key, stored);
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        Interlocked.Increment(ref _failures);
        if (_listening)
        {
            _listening = false;
            LogNotListening(e.ConnectionType.ToString());
        }
        _restore.Start();
    }

    /// <summary>
    /// Connected and subscribed (once: the client subscribes again by itself after every reconnect), and
    /// what this instance wrote while it could not reach Redis deleted there (another instance reading
    /// Redis would find what those writes replaced): then every first-level entry is dropped, and it listens.
    /// After a reconnect the client subscribes again by itself, a moment later: what was published meanwhile
    /// was not heard, hence a second clear. The first subscription needs none: it is confirmed before the first.
    /// </summary>
    private async Task<bool> TryListenAsync()
    {
        var failures = Interlocked.Read(ref _failures);
        if (!_redis.IsConnected)
        {
            return false;
        }
        if (!_subscribed)
        {
            try
            {
                await _subscriber.SubscribeAsync(Channel, _onMessage);
                _subscribed = true;
            }
            catch (Exception e) when (RedisReadCache.IsRedisFailure(e))
            {
                return false;
            }
        }
        if (!_subscriber.IsConnected(Channel) || !await _shared.ResyncAsync())
        {
            return false;
        }
        Clear();
        _listening = true;
        if (Interlocked.Read(ref _failures) != failures)
        {
            _listening = false; // the connection failed while this ran
            return false;
        }
        LogListening();
        if (_listenedBefore)
        {
            await Task.Delay(ResubscribeSettle, _disposed.Token);
            Clear();
        }
        _listenedBefore = true;
        return true;
    }

    public void Dispose()
    {
        _redis.ConnectionFailed -= OnConnectionFailed;
        _shared.Resynced -= Publish;
        _disposed.Cancel();
        try
        {
            _subscriber.Unsubscribe(Channel, _onMessage, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (RedisReadCache.IsRedisFailure(e))
        {
            // The connection is going away with this instance.
        }
        _memory.Dispose();
    }

    [LoggerMessage(LogLevel.Warning, "Redis connection lost ({ConnectionType}); first-level entries are trusted for a second only until it is back")]
    private partial void LogNotListening(string connectionType);

    [LoggerMessage(LogLevel.Information, "Listening to cache invalidations; dropped every first-level entry")]
    private partial void LogListening();

    [LoggerMessage(LogLevel.Warning, "Could not publish a cache invalidation ({Kind}: {Message})")]
    private partial void LogPublishFailed(string kind, string message);
}
