using ConsentService.Infrastructure;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using MongoDB.Driver;
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
            services.AddSingleton<IConsentStore>(sp =>
            {
                var directory = DataDirectory(sp);
                Directory.CreateDirectory(directory);
                return SqliteConsentStore.ForFile(Path.Combine(directory, "consent.db"));
            });
        }
        else
        {
            var url = MongoUrl.Create(mongo);
            // One client for the app's life: it owns the connection pool and the server monitoring.
            services.AddSingleton<IMongoClient>(_ => new MongoClient(url));
            services.AddSingleton<IConsentStore>(sp => new MongoConsentStore(sp.GetRequiredService<IMongoClient>()
                .GetDatabase(url.DatabaseName ?? "consent", new MongoDatabaseSettings { WriteConcern = WriteConcern.WMajority })));
        }
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
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
