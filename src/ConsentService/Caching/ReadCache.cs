using Microsoft.Extensions.Caching.Memory;

namespace ConsentService.Caching;

/// <summary>
/// One kind of cached value: its key, and its version, which orders two values of the same key
/// (a site's update time, a subject's record sequence). A stale value never replaces a newer one.
/// <paramref name="KeepAbsent"/>: whether a load that finds nothing is cached as "known to be absent";
/// false where callers choose the keys (API key lookups), so made-up keys cannot fill the cache.
/// </summary>
public sealed record CacheSlot<T>(string Key, Func<T?, long> Version, bool KeepAbsent = true) where T : class;

/// <summary>
/// The read cache in front of the store. Writers store what they wrote before they answer, so the
/// next read sees it (a withdrawal is never served stale); a reader's fill never overwrites a newer
/// value a writer stored meanwhile. A value of null is cached too: "known to be absent".
/// </summary>
public interface IReadCache
{
    /// <summary>The cached value, or what <paramref name="load"/> returns; concurrent misses of one key share one load.</summary>
    Task<T?> GetOrLoadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class;

    /// <summary>
    /// Stores what a writer just wrote; it replaces any value of the same or an older version.
    /// <paramref name="version"/> overrides the slot's, e.g. to store "absent" as of a given version.
    /// </summary>
    Task SetAsync<T>(CacheSlot<T> slot, T? value, CancellationToken ct, long? version = null) where T : class;

    /// <summary>
    /// A read through to the store (a caller sent <c>Cache-Control: no-cache</c>): <paramref name="load"/>'s
    /// value, always; it is offered to the cache as a reader's fill, so it repairs a cache that fell
    /// behind but never replaces what a writer stored.
    /// </summary>
    Task<T?> ReloadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class;
}

/// <summary>A cached value with the version it was stored under.</summary>
internal sealed record Versioned<T>(T? Value, long Version) where T : class;

/// <summary>
/// A value held in memory, with the completed task a hit answers with, made at the first hit and kept:
/// a check reads several entries, and a task per read was a tenth of what a check allocated.
/// </summary>
internal abstract record HeldValue(object? Value)
{
    private object? _answer;

    /// <summary>Every read of one key asks for the same <typeparamref name="T"/> (its slot's); two racing first hits make two equal tasks.</summary>
    public Task<T?> Answer<T>() where T : class => _answer as Task<T?> ?? (Task<T?>)(_answer = Task.FromResult((T?)Value));
}

/// <summary>
/// The options of every bounded in-process cache here. A full <see cref="MemoryCache"/> makes room by sorting all
/// its entries and removing the least recently used share of them, and drops new entries until it has. At the
/// default share (5 %), a cache of 100,000 entries that new visitors keep filling (one entry each) sorted itself
/// every 5,000 entries, several times a second under load: 9 % of the write path's CPU in a profile, with a buffer
/// of all its entries allocated for each sort. A quarter per compaction makes it five times rarer (2.4 %).
/// </summary>
public static class BoundedMemory
{
    public const double CompactionShare = 0.25;

    /// <summary>What a cache of sites, policies, consents or subjects' key names holds in one process.</summary>
    public const long Entries = 100_000;

    public static MemoryCacheOptions Options(long sizeLimit = Entries) => new() { SizeLimit = sizeLimit, CompactionPercentage = CompactionShare };
}

/// <summary>The embedded default: a bounded in-process cache.</summary>
public sealed class MemoryReadCache(IMemoryCache memory) : IReadCache
{
    private sealed record Entry(object? Value, long Version) : HeldValue(Value);

    private static readonly MemoryCacheEntryOptions Options = new() { SlidingExpiration = TimeSpan.FromMinutes(10), Size = 1 };
    private readonly SingleFlight _loads = new();
    private readonly Lock _gate = new();

    /// <summary>A hit returns at once; only a miss pays for the load's closure and state machine.</summary>
    public Task<T?> GetOrLoadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class =>
        memory.TryGetValue(slot.Key, out Entry? hit) && hit is not null
            ? hit.Answer<T>()
            : LoadAsync(slot, load, ct);

    /// <summary>Apart from <see cref="GetOrLoadAsync{T}"/>: a lambda's captured parameters are allocated where the method starts.</summary>
    private Task<T?> LoadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class =>
        _loads.RunAsync(slot.Key, async () =>
        {
            var value = await load(CancellationToken.None);
            if (value is not null || slot.KeepAbsent)
            {
                Put(slot.Key, value, slot.Version(value), writer: false);
            }
            return value;
        }, ct);

    public Task SetAsync<T>(CacheSlot<T> slot, T? value, CancellationToken ct, long? version = null) where T : class
    {
        Put(slot.Key, value, version ?? slot.Version(value), writer: true);
        _loads.Forget(slot.Key);
        return Task.CompletedTask;
    }

    public async Task<T?> ReloadAsync<T>(CacheSlot<T> slot, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class
    {
        var value = await load(ct);
        if (value is not null || slot.KeepAbsent)
        {
            Put(slot.Key, value, slot.Version(value), writer: false);
        }
        return value;
    }

    private void Put(string key, object? value, long version, bool writer)
    {
        lock (_gate)
        {
            if (memory.TryGetValue(key, out Entry? current) && current is not null
                && (current.Version > version || (current.Version == version && !writer)))
            {
                return;
            }
            memory.Set(key, new Entry(value, version), Options);
        }
    }
}
