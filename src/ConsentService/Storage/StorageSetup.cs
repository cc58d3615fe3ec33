using ConsentService.Infrastructure;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using MongoDB.Driver;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ConsentService.Storage;

public static class StorageSetup
{
    /// <summary>
    /// MongoDB when <c>ConnectionStrings:Mongo</c> is set (the database named in its path, else
    /// "consent"); otherwise the embedded SQLite store under <c>Storage:DataDirectory</c>.
    /// </summary>
    public static WebApplicationBuilder AddConsentStorage(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var mongo = builder.Configuration.GetConnectionString("Mongo");
        if (string.IsNullOrWhiteSpace(mongo))
        {
            services.AddSqliteDataFolder();
            services.AddSingleton<IConsentStore>(sp =>
                SqliteConsentStore.ForFile(sp.GetRequiredService<DataFolder>().DatabaseFile("consent.db"), sp.GetService<TimeProvider>()));
        }
        else
        {
            var url = MongoUrl.Create(mongo);
            // One client for the app's life: it owns the connection pool and the server monitoring.
            services.AddSingleton<IMongoClient>(_ => new MongoClient(url));
            services.AddSingleton<IConsentStore>(sp => new MongoConsentStore(sp.GetRequiredService<IMongoClient>()
                .GetDatabase(url.DatabaseName ?? "consent", new MongoDatabaseSettings { WriteConcern = WriteConcern.WMajority }))
            {
                WebhookClock = sp.GetService<TimeProvider>() ?? TimeProvider.System,
            });
        }
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
        return builder;
    }

    /// <summary>The locked data folder the SQLite stores open their files in (one writer per folder).</summary>
    public static IServiceCollection AddSqliteDataFolder(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => DataFolder.Lock(DataDirectory(sp)));
        return services;
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
            if (!await store.PingAsync(cancellationToken))
            {
                return HealthCheckResult.Unhealthy("The store answered but holds no schema.");
            }
            return await store.WriteFailureAsync(cancellationToken) is { } failure
                ? HealthCheckResult.Unhealthy($"The store reads but does not write: {failure}.")
                : HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The store is unreachable.", e);
        }
    }
}
