using ConsentService.Audit;
using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using ConsentService.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

public sealed class SqliteAuditStoreTests : AuditStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "audit-store-tests", Guid.NewGuid().ToString("N"));
    private SqliteAuditStore? _store;

    private string DatabasePath => Path.Combine(_directory, "audit.db");

    protected override async Task<IAuditStore?> CreateStoreAsync()
    {
        Directory.CreateDirectory(_directory);
        _store = SqliteAuditStore.ForFile(DatabasePath, ExportBatch);
        await _store.InitializeAsync(default);
        return _store;
    }

    protected override async Task DisposeStoreAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    [Fact]
    public async Task The_file_runs_in_wal_mode()
    {
        Assert.Equal("wal", await ScalarAsync("PRAGMA journal_mode"));
    }

    [Fact]
    public async Task Events_cannot_be_updated_even_with_direct_access_to_the_file()
    {
        var at = DateTimeOffset.UnixEpoch;
        await Store.AppendAsync(new AuditEvent(Guid.CreateVersion7(at).ToString(), "s1", at, "key_a", "admin", "GetSite",
            new Dictionary<string, string>(), "req", 200, null, "GET", "/v1/sites/s1"), default);

        var refused = await Assert.ThrowsAsync<SqliteException>(() => ScalarAsync("UPDATE audit_events SET outcome = 200, action = 'Nothing'"));
        Assert.Contains("append-only", refused.Message);
        Assert.Equal("GetSite", await ScalarAsync("SELECT action FROM audit_events"));
    }

    [Fact]
    public async Task Sequence_numbers_are_never_reused_after_retention_empties_the_log()
    {
        var at = DateTimeOffset.UnixEpoch;
        AuditEvent At(int minute) => new(Guid.CreateVersion7(at.AddMinutes(minute)).ToString(), "s1", at.AddMinutes(minute), null, "operator",
            "GetSite", new Dictionary<string, string>(), "req", 200, null, "GET", "/v1/sites/s1");
        await Store.AppendAsync(At(0), default);
        await Store.AppendAsync(At(1), default);
        var before = (long)(await ScalarAsync("SELECT max(seq) FROM audit_events"))!;

        await Store.DeleteOlderThanAsync("s1", at.AddDays(1), default);
        await Store.AppendAsync(At(2), default);

        Assert.True((long)(await ScalarAsync("SELECT max(seq) FROM audit_events"))! > before); // an old cursor never points past new events
    }
}

/// <summary>The contract on a real MongoDB server when <c>CONSENT_TEST_MONGO_URL</c> names one; skipped otherwise.</summary>
public sealed class MongoAuditStoreTests : AuditStoreContract
{
    private MongoClient? _client;
    private readonly string _database = "audit_test_" + Guid.NewGuid().ToString("N");

    protected override string UnavailableReason => $"{MongoStoreTests.UrlVariable} is not set: no MongoDB server to run the audit store contract against.";

    protected override async Task<IAuditStore?> CreateStoreAsync()
    {
        if (Environment.GetEnvironmentVariable(MongoStoreTests.UrlVariable) is not { Length: > 0 } url)
        {
            return null;
        }
        _client = new MongoClient(url);
        var store = new MongoAuditStore(_client.GetDatabase(_database, new MongoDatabaseSettings { WriteConcern = WriteConcern.WMajority }), ExportBatch);
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
