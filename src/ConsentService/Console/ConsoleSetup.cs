using ConsentService.Infrastructure;
using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ConsentService.PrivacyConsole;

public static class ConsoleSetup
{
    /// <summary>
    /// The console's files, its sessions — MongoDB (collection <c>consoleSessions</c>) when
    /// <c>ConnectionStrings:Mongo</c> is set, else <c>sessions.db</c> in the data folder — and the sign-in limiter.
    /// </summary>
    public static WebApplicationBuilder AddConsole(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<ConsoleAssets>();
        services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ConsoleOptions>, ConsoleOptionsValidator>();
        var mongo = builder.Configuration.GetConnectionString("Mongo");
        if (string.IsNullOrWhiteSpace(mongo))
        {
            services.AddSqliteDataFolder();
            services.AddSingleton<ISessionStore>(sp => SqliteSessionStore.ForFile(sp.GetRequiredService<DataFolder>().DatabaseFile("sessions.db")));
        }
        else
        {
            var url = MongoUrl.Create(mongo);
            services.TryAddSingleton<IMongoClient>(_ => new MongoClient(url));
            services.AddSingleton<ISessionStore>(sp => new MongoSessionStore(sp.GetRequiredService<IMongoClient>()
                .GetDatabase(url.DatabaseName ?? "consent", new MongoDatabaseSettings { WriteConcern = WriteConcern.WMajority })));
        }
        services.AddSingleton<ConsoleSessions>();
        services.AddSingleton<SignInLimiter>();
        if (!OpenApiSetup.IsGeneratingDocument)
        {
            services.AddHostedService<SessionStoreInitializer>();
        }
        return builder;
    }

    public static IEndpointRouteBuilder MapConsole(this IEndpointRouteBuilder routes)
    {
        routes.MapConsoleSessionEndpoints();
        routes.MapConsolePages();
        return routes;
    }
}

/// <summary>Creates the session table or indexes before the server takes requests.</summary>
public sealed class SessionStoreInitializer(ISessionStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
