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
    public async Task The_trigger_lets_only_the_tombstone_transition_through_and_the_old_content_leaves_the_files()
    {
        var at = DateTimeOffset.UnixEpoch;
        await Store.AppendAsync(new AuditEvent(Guid.CreateVersion7(at).ToString(), "s1", at, "key_a", "admin", "GetSite",
            new Dictionary<string, string> { ["keyId"] = "tombstone-marker-target" }, "req", 200, "198.51.100.0/24", "GET", "/v1/sites/s1/tombstone-marker-path"), default);

        const string emptied = "key_id = NULL, role = NULL, action = NULL, target = NULL, outcome = NULL, client_ip = NULL, method = NULL, path = NULL";
        // Half a tombstone, a moved event, a tombstone without who: each refused.
        foreach (var update in new[]
        {
            "UPDATE audit_events SET deleted_at = 1, deleted_by_role = 'admin'",
            $"UPDATE audit_events SET {emptied}, deleted_at = 1, deleted_by_role = 'admin', at = 5",
            $"UPDATE audit_events SET {emptied}, deleted_at = 1, deleted_by_role = 'admin', request_id = 'other'",
            $"UPDATE audit_events SET {emptied}, deleted_at = 1",
        })
        {
            Assert.Contains("append-only", (await Assert.ThrowsAsync<SqliteException>(() => ScalarAsync(update))).Message);
        }
        Assert.True(await Store.TombstoneAsync("s1", "req", new AuditDeletion(at.AddDays(1), "key_b", "admin"), default));
        // A tombstone cannot be changed back, nor its deletion rewritten.
        Assert.Contains("append-only", (await Assert.ThrowsAsync<SqliteException>(() => ScalarAsync("UPDATE audit_events SET action = 'GetSite', path = '/x', role = 'admin', target = '{}', outcome = 200, method = 'GET'"))).Message);
        Assert.Contains("append-only", (await Assert.ThrowsAsync<SqliteException>(() => ScalarAsync("UPDATE audit_events SET deleted_by_key_id = 'key_c'"))).Message);
        Assert.Equal("key_b", await ScalarAsync("SELECT deleted_by_key_id FROM audit_events"));

        foreach (var file in Directory.EnumerateFiles(_directory))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            foreach (var needle in new[] { "tombstone-marker", "198.51.100.0" })
            {
                Assert.True(bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(needle)) < 0, $"'{needle}' is still in {Path.GetFileName(file)}");
            }
        }
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
