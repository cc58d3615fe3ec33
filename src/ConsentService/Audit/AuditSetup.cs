using System.ComponentModel.DataAnnotations;
using ConsentService.Infrastructure;
using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MongoDB.Driver;

namespace ConsentService.Audit;

/// <summary>Configuration section <c>Audit</c>.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>How often retention runs (of the injected clock), e.g. <c>01:00:00</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromHours(1);
}

public static class AuditSetup
{
    /// <summary>
    /// The audit store — MongoDB (collection <c>auditEvents</c>, on the app's one <see cref="IMongoClient"/>)
    /// when <c>ConnectionStrings:Mongo</c> is set, else <c>audit.db</c> beside <c>consent.db</c> — the
    /// recorder the middleware uses, and the retention job.
    /// </summary>
    public static WebApplicationBuilder AddAuditLog(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AuditOptions>().BindConfiguration(AuditOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        var mongo = builder.Configuration.GetConnectionString("Mongo");
        if (string.IsNullOrWhiteSpace(mongo))
        {
            services.AddSqliteDataFolder();
            services.AddSingleton<IAuditStore>(sp =>
                SqliteAuditStore.ForFile(sp.GetRequiredService<DataFolder>().DatabaseFile("audit.db")));
        }
        else
        {
            var url = MongoUrl.Create(mongo);
            // Normally registered by AddConsentStorage already; one client for the app's life either way.
            services.TryAddSingleton<IMongoClient>(_ => new MongoClient(url));
            services.AddSingleton<IAuditStore>(sp => new MongoAuditStore(sp.GetRequiredService<IMongoClient>()
                .GetDatabase(url.DatabaseName ?? "consent", new MongoDatabaseSettings { WriteConcern = WriteConcern.WMajority })));
        }
        services.AddSingleton<AuditRecorder>();
        // Degraded, not Unhealthy: requests still succeed without it, but nobody should run long like that.
        services.AddHealthChecks().AddCheck<AuditStoreHealthCheck>("audit", failureStatus: HealthStatus.Degraded, tags: ["ready"]);
        if (!OpenApiSetup.IsGeneratingDocument)
        {
            services.AddHostedService<AuditStoreInitializer>();
            services.AddHostedService<AuditRetentionJob>();
        }
        return builder;
    }
}

/// <summary>Creates the audit schema before the server takes requests (hosted services start first).</summary>
public sealed class AuditStoreInitializer(IAuditStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class AuditStoreHealthCheck(IAuditStore store, AuditRecorder recorder) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (!await store.PingAsync(cancellationToken))
            {
                return new HealthCheckResult(context.Registration.FailureStatus, "The audit store answered but holds no schema.");
            }
            // Until an event is stored again: each audited request tries, so this clears as soon as the store takes one.
            return recorder.AppendFailure is { } failure
                ? new HealthCheckResult(context.Registration.FailureStatus, $"The latest audit event could not be stored: {failure}")
                : HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The audit store is unreachable.", e);
        }
    }
}
