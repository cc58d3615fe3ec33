using ConsentService.Audit;
using ConsentService.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Serializers;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

/// <summary>
/// The audit side of the MongoDB adapter, without a server: an event survives BSON bytes, each query
/// sends the BSON we expect, and the collection's index <c>ix_site_at</c> serves every one.
/// </summary>
public sealed class MongoAuditSchemaTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 30, 15, 123, TimeSpan.Zero);
    private static readonly RenderArgs<BsonDocument> Args = new(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry);
    private const string T0Json = """{ "$date" : "2026-11-25T09:30:15.123Z" }""";
    private const string T1Json = """{ "$date" : "2026-11-25T10:30:15.123Z" }""";
    private const string Id = "019ab5c3-1f4b-7d2e-8c1a-0123456789ab";

    private static BsonDocument ThroughBytes(BsonDocument document) => BsonSerializer.Deserialize<BsonDocument>(document.ToBson());

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_event_round_trips_through_bson_and_leaves_absent_fields_out(bool byKey)
    {
        var e = new AuditEvent(Id, "site_1", T0, byKey ? "key_1" : null, byKey ? "legal" : "operator", "GetSubjectHistory",
            new Dictionary<string, string> { ["subjectId"] = "sub_abc" }, "0HN:00000001", 403, byKey ? "203.0.113.0/24" : null,
            "GET", "/v1/sites/site_1/subjects/sub_abc/history");

        var document = ThroughBytes(MongoAuditSchema.ToBson(e));

        Assert.Equal(Id, document["_id"].AsString);
        Assert.Equal(BsonType.DateTime, document["at"].BsonType);
        Assert.Equal(BsonType.Int32, document["outcome"].BsonType);
        Assert.Equal(byKey, document.Contains("keyId"));
        Assert.Equal(byKey, document.Contains("clientIp"));
        var read = MongoAuditSchema.ToAuditEvent(document);
        Assert.Equal(e with { Target = read.Target }, read);
        Assert.Equal(e.Target, read.Target);
    }

    public static TheoryData<string, AuditFilter, bool, string> RenderedQueries => new()
    {
        { "no filter", new AuditFilter(), false, """{ "siteId" : "s" }""" },
        { "every filter", new AuditFilter("IssueApiKey", "key_1", 201, T0, T0.AddHours(1)), false,
            $$"""{ "siteId" : "s", "action" : "IssueApiKey", "keyId" : "key_1", "outcome" : 201, "at" : { "$gte" : {{T0Json}}, "$lt" : {{T1Json}} } }""" },
        { "after a position", new AuditFilter(), true,
            $$"""{ "siteId" : "s", "$or" : [{ "at" : { "$lt" : {{T0Json}} } }, { "at" : {{T0Json}}, "_id" : { "$lt" : "{{Id}}" } }] }""" },
    };

    [Theory]
    [MemberData(nameof(RenderedQueries))]
    public void Each_events_query_sends_the_expected_filter_newest_first(string name, AuditFilter filter, bool paged, string expected)
    {
        Assert.False(string.IsNullOrEmpty(name));
        var query = MongoAuditSchema.Events("s", filter, paged ? new AuditPosition(0, T0, Id) : null);

        Assert.Equal(MongoSchema.AuditEvents, query.Collection);
        Assert.Equal(expected, query.Filter.Render(Args).ToJson());
        Assert.Equal("""{ "at" : -1, "_id" : -1 }""", query.Sort!.Render(Args).ToJson());
    }

    [Fact]
    public void A_tombstone_unsets_every_describing_field_of_live_events_only_and_round_trips()
    {
        var (filter, update) = MongoAuditSchema.Tombstone("s", "0HN:1", new AuditDeletion(T0, "key_1", "admin"));
        Assert.Equal("""{ "siteId" : "s", "requestId" : "0HN:1", "deleted" : { "$exists" : false } }""", filter.Render(Args).ToJson());
        Assert.Equal(
            $$"""{ "$unset" : { "keyId" : 1, "role" : 1, "action" : 1, "target" : 1, "outcome" : 1, "clientIp" : 1, "method" : 1, "path" : 1 }, "$set" : { "deleted" : { "at" : {{T0Json}}, "keyId" : "key_1", "role" : "admin" } } }""",
            update.Render(new RenderArgs<BsonDocument>(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry)).AsBsonDocument.ToJson());
        Assert.Equal("""{ "siteId" : "s", "requestId" : "0HN:1" }""", MongoAuditSchema.ByRequestId("s", "0HN:1").Filter.Render(Args).ToJson());
        var index = MongoSchema.Indexes[MongoSchema.AuditEvents].Single(i => i.Options.Name == "ix_site_requestId");
        Assert.Equal("""{ "siteId" : 1, "requestId" : 1 }""", index.Keys.Render(Args).ToJson());

        var e = new AuditEvent(Id, "s", T0, "key_1", "admin", "GetSite", new Dictionary<string, string>(), "0HN:1", 200, null, "GET", "/v1/sites/s");
        var tombstone = e.Tombstone(new AuditDeletion(T0.AddDays(1), null, "operator"));
        var document = ThroughBytes(MongoAuditSchema.ToBson(tombstone));
        Assert.Equal(["_id", "siteId", "at", "requestId", "deleted"], document.Names);
        Assert.Equal(tombstone, MongoAuditSchema.ToAuditEvent(document));
    }

    [Fact]
    public void Retention_deletes_by_site_and_time()
    {
        var query = MongoAuditSchema.Expired("s", T0);
        Assert.Equal($$"""{ "siteId" : "s", "at" : { "$lt" : {{T0Json}} } }""", query.Filter.Render(Args).ToJson());
        Assert.Null(query.Sort);
    }

    /// <summary>
    /// The index's first key is an equality of every query, its next keys are the sort walked backwards,
    /// and the time range falls on its second key: one index range per query, no in-memory sort.
    /// </summary>
    [Fact]
    public void The_site_at_index_serves_every_query()
    {
        var index = MongoSchema.Indexes[MongoSchema.AuditEvents].Single(i => i.Options.Name == MongoAuditSchema.IndexName);
        var keys = index.Keys.Render(Args).Elements.Select(e => (e.Name, e.Value.ToInt32())).ToList();
        Assert.Equal([("siteId", 1), ("at", 1), ("_id", 1)], keys);

        var queries = new[]
        {
            MongoAuditSchema.Events("s", new AuditFilter("IssueApiKey", "key_1", 201, T0, T0.AddHours(1)), new AuditPosition(0, T0, Id)),
            MongoAuditSchema.Events("s", new AuditFilter(), null),
            MongoAuditSchema.Expired("s", T0),
        };
        foreach (var query in queries)
        {
            var filter = query.Filter.Render(Args);
            Assert.Equal("s", filter["siteId"].AsString); // the equality on the index's first key
            var ranged = filter.Names.Where(n => n is "at" or "$or").ToList();
            Assert.All(ranged, n => Assert.True(n == "$or" || filter[n].IsBsonDocument)); // ranges on "at", the second key
            if (query.Sort is { } sort)
            {
                var order = sort.Render(Args).Elements.Select(e => (e.Name, -e.Value.ToInt32())).ToList();
                Assert.Equal(keys.Skip(1), order); // the sort is the rest of the index, reversed
            }
        }
    }
}
