using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace ConsentService.Caching;

public static class CacheSetup
{
    /// <summary>
    /// In-process memory, and behind it Redis when <c>ConnectionStrings:Redis</c> is set (shared by every
    /// instance, see <see cref="TwoLevelReadCache"/>); else in-process memory alone.
    /// </summary>
    public static WebApplicationBuilder AddConsentCache(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<Consents.CheckAnswers>();
        var connectionString = builder.Configuration.GetConnectionString("Redis");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            services.AddSingleton<IMemoryCache>(_ => new MemoryCache(BoundedMemory.Options()));
            services.AddSingleton<IReadCache, MemoryReadCache>();
            return builder;
        }
        // One multiplexer for the app's life; it connects in the background and never fails startup.
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(RedisReadCache.Options(connectionString)));
        // Two levels: memory on this instance, Redis shared by all, kept true by invalidations over pub/sub.
        services.AddSingleton<RedisReadCache>();
        services.AddSingleton<IReadCache, TwoLevelReadCache>();
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", HealthStatus.Degraded, ["ready"]);
        return builder;
    }
}

/// <summary>Redis down leaves the service working (reads go to the store): degraded, not unhealthy.</summary>
public sealed class RedisHealthCheck(IConnectionMultiplexer redis, IReadCache cache) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!redis.IsConnected)
        {
            return HealthCheckResult.Degraded("Redis is unreachable; reads go to the store.");
        }
        if (cache is TwoLevelReadCache { HearsInvalidations: false })
        {
            return HealthCheckResult.Degraded("Not yet subscribed to cache invalidations; entries in memory are trusted for a second only.");
        }
        try
        {
            await redis.GetDatabase().PingAsync();
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (RedisReadCache.IsRedisFailure(e))
        {
            return HealthCheckResult.Degraded("Redis does not answer; reads go to the store.", e);
        }
    }
}
