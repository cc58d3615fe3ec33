using ConsentService.Consents;
using ConsentService.Storage;
using ConsentService.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ConsentService.Tests.Storage;

public sealed class SqliteStoreTests : ConsentStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "consent-store-tests", Guid.NewGuid().ToString("N"));
    private SqliteConsentStore? _store;

    protected override async Task<IConsentStore?> CreateStoreAsync()
    {
        Directory.CreateDirectory(_directory);
        _store = SqliteConsentStore.ForFile(Path.Combine(_directory, "consent.db"));
        await _store.InitializeAsync(default);
        return _store;
    }

    protected override async Task DisposeStoreAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Sustained_writes_are_checkpointed_beside_the_writer_and_the_log_stays_bounded()
    {
        var path = Path.Combine(_directory, "consent.db");
        await using var store = new SqliteConsentStore(SqliteCommands.FileConnectionString(path + "-sustained")) { WalRestartPages = 1_000 };
        await store.InitializeAsync(default);
        const int appends = 4_000;
        // All at once: the writer commits batches of up to 256 back to back.
        await Task.WhenAll(Enumerable.Range(0, appends).Select(i => store.AppendConsentAsync(
            "s1", $"subject-{i}", null, null, NewKey(), head => Record("s1", $"subject-{i}", head, ConsentMethod.AcceptAll, null), default)));

        // The writer's automatic checkpoint is off, yet the records reached the database file: the checkpointer copied them.
        Assert.True(new FileInfo(path + "-sustained").Length > appends * 400L, $"database file: {new FileInfo(path + "-sustained").Length} bytes");
        // Every append writes pages to the log (several of 4 KiB); one never started again would hold them all (> 16 MB).
        // It starts again after a checkpoint that caught up between two batches, or else by the writer past WalRestartPages.
        var wal = new FileInfo(path + "-sustained-wal").Length;
        Assert.True(wal < appends * 4096L / 2, $"log: {wal} bytes");
        Assert.Equal(appends, (await store.GetLedgerHeadAsync("s1", default)).Size);
        Assert.Equal("subject-3999", (await store.GetCurrentConsentAsync("s1", "subject-3999", default))!.SubjectId);
    }

    [Fact]
    public async Task The_database_runs_in_wal_mode_and_reopens_with_its_data()
    {
        await Store.CreateSiteAsync(new("s1", "Shop", [], "en", Sites.JurisdictionMode.Gdpr, 395, 182, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch), default);
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, "consent.db")}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode";
            Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
        }

        await using var reopened = SqliteConsentStore.ForFile(Path.Combine(_directory, "consent.db"));
        await reopened.InitializeAsync(default); // idempotent on an existing file
        Assert.Equal("Shop", (await reopened.GetSiteAsync("s1", default))!.Name);
    }
}
