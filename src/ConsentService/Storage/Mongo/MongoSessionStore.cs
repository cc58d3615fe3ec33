using ConsentService.PrivacyConsole;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ConsentService.Storage.Mongo;

/// <summary>
/// The <c>consoleSessions</c> collection: BSON of a session and every query <see cref="MongoSessionStore"/>
/// sends, built here so a test can check them against the indexes without a server. <c>_id</c> is the
/// session id's hash; a TTL index on <c>idleExpiresAt</c> lets the server drop expired sessions by itself.
/// </summary>
public static class MongoSessionSchema
{
    public const string Collection = "consoleSessions";

    private static readonly FilterDefinitionBuilder<BsonDocument> F = Builders<BsonDocument>.Filter;

    public static IReadOnlyList<CreateIndexModel<BsonDocument>> Indexes { get; } =
    [
        // Expired sessions are refused by the clock check on every request; the TTL monitor (about once a minute) only tidies.
        new(Builders<BsonDocument>.IndexKeys.Ascending("idleExpiresAt"),
            new CreateIndexOptions<BsonDocument> { Name = "ttl_idleExpiresAt", ExpireAfter = TimeSpan.Zero }),
    ];

    public static MongoQuery ById(string idHash) => new(Collection, F.Eq("_id", idHash));

    public static MongoQuery Expired(DateTimeOffset now) => new(Collection, F.Lte("idleExpiresAt", Date(now)));

    /// <summary>
    /// Moves the idle deadline forward only, and never past the absolute end: a pipeline update, so the
    /// comparison with the stored values happens in the server in one step, as SQLite's UPDATE does.
    /// </summary>
    public static UpdateDefinition<BsonDocument> Extend(DateTimeOffset idleExpiresAt) =>
        new PipelineUpdateDefinition<BsonDocument>(new[]
        {
            new BsonDocument("$set", new BsonDocument("idleExpiresAt", new BsonDocument("$min", new BsonArray
            {
                "$expiresAt",
                new BsonDocument("$max", new BsonArray { "$idleExpiresAt", Date(idleExpiresAt) }),
            }))),
        });

    public static BsonDocument ToBson(ConsoleSession s)
    {
        var document = new BsonDocument
        {
            ["_id"] = s.IdHash,
            ["role"] = s.Role,
        };
        if (s.SiteId is not null) document["siteId"] = s.SiteId;
        if (s.KeyId is not null) document["keyId"] = s.KeyId;
        document["keyHash"] = s.KeyHash;
        document["createdAt"] = Date(s.CreatedAt);
        document["idleExpiresAt"] = Date(s.IdleExpiresAt);
        document["expiresAt"] = Date(s.ExpiresAt);
        return document;
    }

    public static ConsoleSession ToSession(BsonDocument d) => new(
        d["_id"].AsString,
        d["role"].AsString,
        d.TryGetValue("siteId", out var site) ? site.AsString : null,
        d.TryGetValue("keyId", out var key) ? key.AsString : null,
        d["keyHash"].AsString,
        At(d["createdAt"]),
        At(d["idleExpiresAt"]),
        At(d["expiresAt"]));

    private static DateTimeOffset At(BsonValue value) => new(value.ToUniversalTime(), TimeSpan.Zero);

    private static BsonDateTime Date(DateTimeOffset at) => new(at.UtcDateTime);
}

/// <summary>Console sessions on MongoDB, written with the database's <c>w: majority</c> like everything else.</summary>
public sealed class MongoSessionStore(IMongoDatabase database) : ISessionStore
{
    private IMongoCollection<BsonDocument> Sessions => database.GetCollection<BsonDocument>(MongoSessionSchema.Collection);

    public Task InitializeAsync(CancellationToken ct) => Sessions.Indexes.CreateManyAsync(MongoSessionSchema.Indexes, ct);

    public Task CreateAsync(ConsoleSession session, CancellationToken ct) =>
        Sessions.InsertOneAsync(MongoSessionSchema.ToBson(session), cancellationToken: ct);

    public async Task<ConsoleSession?> FindAsync(string idHash, CancellationToken ct)
    {
        var document = await Sessions.Find(MongoSessionSchema.ById(idHash).Filter).FirstOrDefaultAsync(ct);
        return document is null ? null : MongoSessionSchema.ToSession(document);
    }

    public async Task<bool> ExtendAsync(string idHash, DateTimeOffset idleExpiresAt, CancellationToken ct) =>
        (await Sessions.UpdateOneAsync(MongoSessionSchema.ById(idHash).Filter, MongoSessionSchema.Extend(idleExpiresAt), cancellationToken: ct)).MatchedCount > 0;

    public async Task<bool> DeleteAsync(string idHash, CancellationToken ct) =>
        (await Sessions.DeleteOneAsync(MongoSessionSchema.ById(idHash).Filter, ct)).DeletedCount > 0;

    public async Task<long> DeleteExpiredAsync(DateTimeOffset now, CancellationToken ct) =>
        (await Sessions.DeleteManyAsync(MongoSessionSchema.Expired(now).Filter, ct)).DeletedCount;
}
