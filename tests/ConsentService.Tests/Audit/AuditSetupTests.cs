using ConsentService.Audit;
using ConsentService.Infrastructure;
using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MongoDB.Driver;

namespace ConsentService.Tests.Audit;

/// <summary>Configuration picks the audit store the same way it picks the consent store.</summary>
public sealed class AuditSetupTests
{
    private static WebApplication Build(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section); // as AddConsentApi does
        builder.AddConsentStorage();
        builder.AddAuditLog();
        return builder.Build();
    }

    [Fact]
    public async Task Without_a_mongo_connection_string_events_go_to_audit_db_beside_consent_db()
    {
        var directory = Path.Combine(Path.GetTempPath(), "audit-selection", Guid.NewGuid().ToString("N"));
        await using var app = Build(new() { ["Storage:DataDirectory"] = directory });
        var store = app.Services.GetRequiredService<IAuditStore>();
        Assert.IsType<SqliteAuditStore>(store);

        try
        {
            await store.InitializeAsync(default);
            Assert.True(File.Exists(Path.Combine(directory, "audit.db")));
        }
        finally
        {
            await ((IAsyncDisposable)store).DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task With_one_events_go_to_mongodb_on_the_apps_one_client()
    {
        await using var app = Build(new() { ["ConnectionStrings:Mongo"] = "mongodb://127.0.0.1:1/consent_selection?serverSelectionTimeoutMS=100" });
        Assert.IsType<MongoAuditStore>(app.Services.GetRequiredService<IAuditStore>());
        Assert.IsType<MongoConsentStore>(app.Services.GetRequiredService<IConsentStore>());
        Assert.Single(app.Services.GetServices<IMongoClient>());
    }
}
