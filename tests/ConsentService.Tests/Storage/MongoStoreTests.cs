using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

/// <summary>
/// The store contract on a real MongoDB server (a replica set, for w: majority), when
/// <c>CONSENT_TEST_MONGO_URL</c> names one, e.g. <c>mongodb://localhost:27017/?replicaSet=rs0</c>.
/// Each test class instance gets its own database, dropped afterwards. Without the variable every
/// case shows as skipped.
/// </summary>
public sealed class MongoStoreTests : ConsentStoreContract
{
    public const string UrlVariable = "CONSENT_TEST_MONGO_URL";

    private MongoClient? _client;
    private readonly string _database = "consent_test_" + Guid.NewGuid().ToString("N");

    protected override string UnavailableReason => $"{UrlVariable} is not set: no MongoDB server to run the store contract against.";

    protected override async Task<IConsentStore?> CreateStoreAsync()
    {
        if (Environment.GetEnvironmentVariable(UrlVariable) is not { Length: > 0 } url)
        {
            return null;
        }
        _client = new MongoClient(url);
        var store = new MongoConsentStore(_client.GetDatabase(_database, new MongoDatabaseSettings { WriteConcern = WriteConcern.WMajority }));
        await store.InitializeAsync(default);
        await store.InitializeAsync(default); // idempotent
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
