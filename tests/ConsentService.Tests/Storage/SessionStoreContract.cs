using ConsentService.PrivacyConsole;
using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

/// <summary>What every console session store must do; SQLite and MongoDB adapters derive below.</summary>
public abstract class SessionStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
    private ISessionStore? _store;

    protected ISessionStore Store
    {
        get
        {
            Skip.If(_store is null, UnavailableReason);
            return _store!;
        }
    }

    protected abstract Task<ISessionStore?> CreateStoreAsync();

    protected virtual string UnavailableReason => "The store is not available.";

    protected virtual Task DisposeStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public Task DisposeAsync() => DisposeStoreAsync();

    private static ConsoleSession Session(string id, string? siteId = "site_1", int idleMinutes = 30) =>
        new(id, siteId is null ? "operator" : "legal", siteId, siteId is null ? null : "key_1", "keyhash", T0, T0.AddMinutes(idleMinutes), T0.AddHours(8));

    [SkippableFact]
    public async Task A_session_round_trips_and_an_unknown_id_finds_nothing()
    {
        await Store.CreateAsync(Session("a"), default);
        await Store.CreateAsync(Session("o", siteId: null), default);
        Assert.Equal(Session("a"), await Store.FindAsync("a", default));
        Assert.Equal(Session("o", siteId: null), await Store.FindAsync("o", default));
        Assert.Null(await Store.FindAsync("b", default));
    }

    [SkippableFact]
    public async Task Two_sessions_cannot_share_an_id()
    {
        await Store.CreateAsync(Session("a"), default);
        await Assert.ThrowsAnyAsync<Exception>(() => Store.CreateAsync(Session("a"), default));
    }

    [SkippableFact]
    public async Task Extending_moves_the_idle_end_forward_only_and_never_past_the_absolute_end()
    {
        await Store.CreateAsync(Session("a"), default);
        Assert.True(await Store.ExtendAsync("a", T0.AddMinutes(45), default));
        Assert.Equal(T0.AddMinutes(45), (await Store.FindAsync("a", default))!.IdleExpiresAt);
        Assert.True(await Store.ExtendAsync("a", T0.AddMinutes(40), default)); // a slower instance's older extension
        Assert.Equal(T0.AddMinutes(45), (await Store.FindAsync("a", default))!.IdleExpiresAt);
        Assert.True(await Store.ExtendAsync("a", T0.AddHours(9), default));
        Assert.Equal(T0.AddHours(8), (await Store.FindAsync("a", default))!.IdleExpiresAt);
        Assert.False(await Store.ExtendAsync("gone", T0.AddHours(1), default));
    }

    [SkippableFact]
    public async Task Deleting_ends_a_session_once()
    {
        await Store.CreateAsync(Session("a"), default);
        Assert.True(await Store.DeleteAsync("a", default));
        Assert.Null(await Store.FindAsync("a", default));
        Assert.False(await Store.DeleteAsync("a", default));
        Assert.False(await Store.ExtendAsync("a", T0.AddMinutes(50), default));
    }

    [SkippableFact]
    public async Task The_sweep_deletes_only_sessions_past_their_idle_end()
    {
        await Store.CreateAsync(Session("short", idleMinutes: 5), default);
        await Store.CreateAsync(Session("long", idleMinutes: 60), default);
        Assert.Equal(1, await Store.DeleteExpiredAsync(T0.AddMinutes(10), default));
        Assert.Null(await Store.FindAsync("short", default));
        Assert.NotNull(await Store.FindAsync("long", default));
    }
}

public sealed class SqliteSessionStoreTests : SessionStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "session-store-tests", Guid.NewGuid().ToString("N"));
    private SqliteSessionStore? _store;

    protected override async Task<ISessionStore?> CreateStoreAsync()
    {
        Directory.CreateDirectory(_directory);
        _store = SqliteSessionStore.ForFile(Path.Combine(_directory, "sessions.db"));
        await _store.InitializeAsync(default);
        return _store;
    }

    protected override async Task DisposeStoreAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>The contract on a real MongoDB server when <c>CONSENT_TEST_MONGO_URL</c> names one; skipped otherwise.</summary>
public sealed class MongoSessionStoreTests : SessionStoreContract
{
    private MongoClient? _client;
    private readonly string _database = "session_test_" + Guid.NewGuid().ToString("N");

    protected override string UnavailableReason => $"{MongoStoreTests.UrlVariable} is not set: no MongoDB server to run the session store contract against.";

    protected override async Task<ISessionStore?> CreateStoreAsync()
    {
        if (Environment.GetEnvironmentVariable(MongoStoreTests.UrlVariable) is not { Length: > 0 } url) return null;
        _client = new MongoClient(url);
        var store = new MongoSessionStore(_client.GetDatabase(_database, new MongoDatabaseSettings { WriteConcern = WriteConcern.WMajority }));
        await store.InitializeAsync(default);
        return store;
    }

    protected override async Task DisposeStoreAsync()
    {
        if (_client is not null)
        {
            await _client.DropDatabaseAsync(_database);
            _client.Dispose();
        }
    }
}
