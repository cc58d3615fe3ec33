using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace ConsentService.Caching;

public static class CacheSetup
{
    /// <summary>Redis when <c>ConnectionStrings:Redis</c> is set (shared by every instance), else in-process memory.</summary>
    public static WebApplicationBuilder AddConsentCache(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var connectionString = builder.Configuration.GetConnectionString("Redis");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            services.AddMemoryCache(o => o.SizeLimit = 100_000);
            services.AddSingleton<IReadCache, MemoryReadCache>();
            return builder;
        }
        // One multiplexer for the app's life; it connects in the background and never fails startup.
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(RedisReadCache.Options(connectionString)));
        services.AddSingleton<IReadCache, RedisReadCache>();
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", HealthStatus.Degraded, ["ready"]);
        return builder;
    }
}

/// <summary>Redis down leaves the service working (reads go to the store): degraded, not unhealthy.</summary>
public sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!redis.IsConnected)
        {
            return HealthCheckResult.Degraded("Redis is unreachable; reads go to the store.");
        }
        try
        {
            await redis.GetDatabase().PingAsync();
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return HealthCheckResult.Degraded("Redis does not answer; reads go to the store.", e);
        }
    }
}
