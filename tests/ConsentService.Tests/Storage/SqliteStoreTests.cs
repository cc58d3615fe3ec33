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
