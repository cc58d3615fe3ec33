using ConsentService.Infrastructure;
using ConsentService.Storage.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ConsentService.Storage;

public static class StorageSetup
{
    /// <summary>The embedded SQLite store under <c>Storage:DataDirectory</c>, with its readiness check.</summary>
    public static WebApplicationBuilder AddConsentStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IConsentStore>(sp =>
        {
            var directory = DataDirectory(sp);
            Directory.CreateDirectory(directory);
            return SqliteConsentStore.ForFile(Path.Combine(directory, "consent.db"));
        });
        builder.Services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
        return builder;
    }

    public static string DataDirectory(IServiceProvider services) => Path.GetFullPath(
        services.GetRequiredService<IOptions<StorageOptions>>().Value.DataDirectory,
        services.GetRequiredService<IWebHostEnvironment>().ContentRootPath);
}

public sealed class StoreHealthCheck(IConsentStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.PingAsync(cancellationToken)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("The store answered but holds no schema.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The store is unreachable.", e);
        }
    }
}
