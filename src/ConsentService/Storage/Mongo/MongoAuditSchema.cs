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
        document["role"] = e.Role;
        document["action"] = e.Action;
        document["target"] = new BsonDocument(e.Target.Select(t => new BsonElement(t.Key, t.Value)));
        document["requestId"] = e.RequestId;
        document["outcome"] = e.Outcome;
        if (e.ClientIp is not null) document["clientIp"] = e.ClientIp;
        document["method"] = e.Method;
        document["path"] = e.Path;
        return document;
    }

    public static AuditEvent ToAuditEvent(BsonDocument d) => new(
        d["_id"].AsString,
        d["siteId"].AsString,
        new DateTimeOffset(d["at"].ToUniversalTime(), TimeSpan.Zero),
        d.TryGetValue("keyId", out var keyId) ? keyId.AsString : null,
        d["role"].AsString,
        d["action"].AsString,
        d["target"].AsBsonDocument.ToDictionary(t => t.Name, t => t.Value.AsString),
        d["requestId"].AsString,
        d["outcome"].AsInt32,
        d.TryGetValue("clientIp", out var clientIp) ? clientIp.AsString : null,
        d["method"].AsString,
        d["path"].AsString);

    private static BsonDateTime Date(DateTimeOffset at) => new(at.UtcDateTime);
}
