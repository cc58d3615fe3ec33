using Microsoft.Extensions.Caching.Memory;

namespace ConsentService.Caching;

/// <summary>A cached lookup result; <see cref="Value"/> null means "known to be absent".</summary>
public sealed record Cached<T>(T? Value) where T : class;

/// <summary>
/// The read cache in front of the store. Writers overwrite or remove an entry before they answer,
/// so the next read sees the write (a withdrawal is never served stale).
/// </summary>
public interface IReadCache
{
    Task<T?> GetOrLoadAsync<T>(string key, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class;
    Task SetAsync<T>(string key, T? value, CancellationToken ct) where T : class;
    Task RemoveAsync(string key, CancellationToken ct);
}

/// <summary>The embedded default: a bounded in-process cache.</summary>
public sealed class MemoryReadCache(IMemoryCache memory) : IReadCache
{
    private static readonly MemoryCacheEntryOptions Entry = new()
    {
        SlidingExpiration = TimeSpan.FromMinutes(10),
        Size = 1,
    };

    public async Task<T?> GetOrLoadAsync<T>(string key, Func<CancellationToken, Task<T?>> load, CancellationToken ct) where T : class
    {
        if (memory.TryGetValue(key, out Cached<T>? hit) && hit is not null)
        {
            return hit.Value;
        }
        var value = await load(ct);
        memory.Set(key, new Cached<T>(value), Entry);
        return value;
    }

    public Task SetAsync<T>(string key, T? value, CancellationToken ct) where T : class
    {
        memory.Set(key, new Cached<T>(value), Entry);
        return Task.CompletedTask;
    }

    public Task RemoveAsync(string key, CancellationToken ct)
    {
        memory.Remove(key);
        return Task.CompletedTask;
    }
}

public static class CacheKeys
{
    public static string Site(string siteId) => $"site:{siteId}";
    public static string Policies(string siteId) => $"policies:{siteId}";
    public static string CurrentConsent(string siteId, string subjectId) => $"consent:{siteId}:{subjectId}";
}
