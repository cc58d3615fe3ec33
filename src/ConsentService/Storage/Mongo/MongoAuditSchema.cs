using ConsentService.Audit;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ConsentService.Storage.Mongo;

/// <summary>
/// The <c>auditEvents</c> collection: the BSON of an event and every query <see cref="MongoAuditStore"/>
/// sends, built here so a test can check them against the collection's index without a server. The
/// index is <c>ix_site_at {siteId, at, _id}</c> from <see cref="MongoSchema"/>: each query is one site,
/// ranged and ordered on <c>at</c> then <c>_id</c>; the other filters (action, key, outcome) are checked
/// on the index-ordered scan, which a page's limit ends early.
/// </summary>
public static class MongoAuditSchema
{
    public const string Collection = MongoSchema.AuditEvents;
    public const string IndexName = "ix_site_at";

    private static readonly FilterDefinitionBuilder<BsonDocument> F = Builders<BsonDocument>.Filter;

    /// <summary>Newest first: the index walked backwards.</summary>
    public static SortDefinition<BsonDocument> NewestFirst { get; } = Builders<BsonDocument>.Sort.Descending("at").Descending("_id");

    /// <summary>The site's events matching <paramref name="filter"/>, after <paramref name="after"/> in newest-first order.</summary>
    public static MongoQuery Events(string siteId, AuditFilter filter, AuditPosition? after)
    {
        var query = F.Eq("siteId", siteId);
        if (filter.Action is { } action) query &= F.Eq("action", action);
        if (filter.KeyId is { } keyId) query &= F.Eq("keyId", keyId);
        if (filter.Outcome is { } outcome) query &= F.Eq("outcome", outcome);
        if (filter.From is { } from) query &= F.Gte("at", Date(from));
        if (filter.To is { } to) query &= F.Lt("at", Date(to));
        if (after is not null)
        {
            query &= F.Or(F.Lt("at", Date(after.At)), F.Eq("at", Date(after.At)) & F.Lt("_id", after.Id));
        }
        return new MongoQuery(Collection, query, NewestFirst);
    }

    /// <summary>The site's events of one request: what a deletion by request id turns into tombstones.</summary>
    public static MongoQuery ByRequestId(string siteId, string requestId) =>
        new(Collection, F.Eq("siteId", siteId) & F.Eq("requestId", requestId));

    /// <summary>
    /// Empties the describing fields and records the deletion; applied only to events that are not
    /// tombstones yet (the filter), so the first deletion is kept.
    /// </summary>
    public static (FilterDefinition<BsonDocument> Filter, UpdateDefinition<BsonDocument> Update) Tombstone(
        string siteId, string requestId, AuditDeletion deletion)
    {
        var deleted = new BsonDocument { ["at"] = Date(deletion.At) };
        if (deletion.KeyId is not null) deleted["keyId"] = deletion.KeyId;
        deleted["role"] = deletion.Role;
        var update = Builders<BsonDocument>.Update
            .Unset("keyId").Unset("role").Unset("action").Unset("target").Unset("outcome").Unset("clientIp").Unset("method").Unset("path")
            .Set("deleted", deleted);
        return (ByRequestId(siteId, requestId).Filter & F.Exists("deleted", false), update);
    }

    /// <summary>What retention deletes.</summary>
    public static MongoQuery Expired(string siteId, DateTimeOffset cutoff) =>
        new(Collection, F.Eq("siteId", siteId) & F.Lt("at", Date(cutoff)));

    /// <summary>Absent values are left out, as in <see cref="MongoDocuments"/>; <c>at</c> is a BSON date (milliseconds).</summary>
    public static BsonDocument ToBson(AuditEvent e)
    {
        var document = new BsonDocument
        {
            ["_id"] = e.Id,
            ["siteId"] = e.SiteId,
            ["at"] = Date(e.At),
        };
        if (e.KeyId is not null) document["keyId"] = e.KeyId;
        if (e.Role is not null) document["role"] = e.Role;
        if (e.Action is not null) document["action"] = e.Action;
        if (e.Target is not null) document["target"] = new BsonDocument(e.Target.Select(t => new BsonElement(t.Key, t.Value)));
        document["requestId"] = e.RequestId;
        if (e.Outcome is not null) document["outcome"] = e.Outcome.Value;
        if (e.ClientIp is not null) document["clientIp"] = e.ClientIp;
        if (e.Method is not null) document["method"] = e.Method;
        if (e.Path is not null) document["path"] = e.Path;
        if (e.Deleted is { } deletion)
        {
            document["deleted"] = new BsonDocument { ["at"] = Date(deletion.At) };
            if (deletion.KeyId is not null) document["deleted"]["keyId"] = deletion.KeyId;
            document["deleted"]["role"] = deletion.Role;
        }
        return document;
    }

    public static AuditEvent ToAuditEvent(BsonDocument d) => new(
        d["_id"].AsString,
        d["siteId"].AsString,
        new DateTimeOffset(d["at"].ToUniversalTime(), TimeSpan.Zero),
        Text(d, "keyId"),
        Text(d, "role"),
        Text(d, "action"),
        d.TryGetValue("target", out var target) ? target.AsBsonDocument.ToDictionary(t => t.Name, t => t.Value.AsString) : null,
        d["requestId"].AsString,
        d.TryGetValue("outcome", out var outcome) ? outcome.AsInt32 : null,
        Text(d, "clientIp"),
        Text(d, "method"),
        Text(d, "path"),
        d.TryGetValue("deleted", out var deleted)
            ? new AuditDeletion(new DateTimeOffset(deleted["at"].ToUniversalTime(), TimeSpan.Zero), Text(deleted.AsBsonDocument, "keyId"), deleted["role"].AsString)
            : null);

    private static string? Text(BsonDocument d, string name) => d.TryGetValue(name, out var value) ? value.AsString : null;

    private static BsonDateTime Date(DateTimeOffset at) => new(at.UtcDateTime);
}
