using ConsentService.Caching;
using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentService.Tests.Deployment;

/// <summary>Configuration picks the adapters: connection strings set → MongoDB / Redis, else the embedded defaults.</summary>
public sealed class AdapterSelectionTests
{
    private static WebApplication Build(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddConsentStorage();
        builder.AddConsentCache();
        return builder.Build();
    }

    [Fact]
    public async Task Without_connection_strings_the_service_runs_on_sqlite_and_memory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "consent-selection", Guid.NewGuid().ToString("N"));
        await using var app = Build(new() { ["Storage:DataDirectory"] = directory });
        Assert.IsType<SqliteConsentStore>(app.Services.GetRequiredService<IConsentStore>());
        Assert.IsType<MemoryReadCache>(app.Services.GetRequiredService<IReadCache>());
    }

    [Fact]
    public async Task Connection_strings_select_mongodb_and_redis_without_needing_them_up_to_build()
    {
        await using var app = Build(new()
        {
            ["ConnectionStrings:Mongo"] = "mongodb://127.0.0.1:1/consent_selection?serverSelectionTimeoutMS=100",
            ["ConnectionStrings:Redis"] = "127.0.0.1:1",
        });
        Assert.IsType<MongoConsentStore>(app.Services.GetRequiredService<IConsentStore>());
        Assert.IsType<TwoLevelReadCache>(app.Services.GetRequiredService<IReadCache>()); // memory in front of Redis
        Assert.NotNull(app.Services.GetRequiredService<RedisReadCache>());
    }
}
