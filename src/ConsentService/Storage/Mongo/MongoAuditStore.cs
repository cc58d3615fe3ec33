using System.Runtime.CompilerServices;
using ConsentService.Audit;
using MongoDB.Bson;
using MongoDB.Driver;
using Q = ConsentService.Storage.Mongo.MongoAuditSchema;

namespace ConsentService.Storage.Mongo;

/// <summary>
/// The audit log on MongoDB: collection <c>auditEvents</c>, written with the database's <c>w: majority</c>.
/// Inserts; the one update turns an event into a tombstone (deletion by request id); retention deletes whole events.
/// </summary>
public sealed class MongoAuditStore(IMongoDatabase database, int exportBatchSize = 500) : IAuditStore
{
    private IMongoCollection<BsonDocument> Events => database.GetCollection<BsonDocument>(Q.Collection);

    /// <summary>The collection's index is the one <see cref="MongoSchema"/> declares; creating it again is a no-op.</summary>
    public Task InitializeAsync(CancellationToken ct) =>
        Events.Indexes.CreateManyAsync(MongoSchema.Indexes[MongoSchema.AuditEvents], ct);

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        var reply = await database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: ct);
        return reply.GetValue("ok", 0).ToDouble() >= 1;
    }

    public Task AppendAsync(AuditEvent auditEvent, CancellationToken ct) =>
        Events.InsertOneAsync(Q.ToBson(auditEvent), cancellationToken: ct);

    public async Task<AuditPage> QueryAsync(string siteId, AuditFilter filter, AuditPosition? after, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var query = Q.Events(siteId, filter, after);
        var documents = await Events.Find(query.Filter).Sort(query.Sort).Limit(limit + 1).ToListAsync(ct);
        var items = documents.Take(limit).Select(Q.ToAuditEvent).ToList();
        var next = documents.Count > limit ? new AuditPosition(0, items[^1].At, items[^1].Id) : null;
        return new AuditPage(items, next);
    }

    public async IAsyncEnumerable<AuditEvent> ExportAsync(string siteId, AuditFilter filter, [EnumeratorCancellation] CancellationToken ct)
    {
        var query = Q.Events(siteId, filter, after: null);
        using var cursor = await Events.Find(query.Filter, new FindOptions { BatchSize = exportBatchSize }).Sort(query.Sort).ToCursorAsync(ct);
        while (await cursor.MoveNextAsync(ct))
        {
            foreach (var document in cursor.Current)
            {
                yield return Q.ToAuditEvent(document);
            }
        }
    }

    /// <summary>
    /// An update that unsets the content: WiredTiger rewrites the document, and the old version's space is
    /// reused by later writes (see the README on what MongoDB keeps after a delete).
    /// </summary>
    public async Task<bool> TombstoneAsync(string siteId, string requestId, AuditDeletion deletion, CancellationToken ct)
    {
        var (filter, update) = Q.Tombstone(siteId, requestId, deletion);
        await Events.UpdateManyAsync(filter, update, cancellationToken: ct);
        return await Events.Find(Q.ByRequestId(siteId, requestId).Filter).Limit(1).AnyAsync(ct);
    }

    public async Task<long> DeleteOlderThanAsync(string siteId, DateTimeOffset cutoff, CancellationToken ct)
    {
        var expired = Q.Expired(siteId, cutoff);
        return (await Events.DeleteManyAsync(expired.Filter, ct)).DeletedCount;
    }

    public async Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct)
    {
        using var cursor = await Events.DistinctAsync<string>("siteId", FilterDefinition<BsonDocument>.Empty, cancellationToken: ct);
        return (await cursor.ToListAsync(ct)).Order(StringComparer.Ordinal).ToList();
    }
}
