using ConsentService.PrivacyConsole;
using ConsentService.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Serializers;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

/// <summary>The session side of the MongoDB adapter without a server: BSON round trip, queries, and the TTL index that serves them.</summary>
public sealed class MongoSessionSchemaTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 30, 15, 123, TimeSpan.Zero);
    private static readonly RenderArgs<BsonDocument> Args = new(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_session_round_trips_through_bson_and_leaves_absent_fields_out(bool siteKey)
    {
        var session = new ConsoleSession("hash", siteKey ? "admin" : "operator", siteKey ? "site_1" : null, siteKey ? "key_1" : null, "keyhash",
            T0, T0.AddMinutes(30), T0.AddHours(8));
        var document = BsonSerializer.Deserialize<BsonDocument>(MongoSessionSchema.ToBson(session).ToBson());
        Assert.Equal(siteKey, document.Contains("siteId"));
        Assert.Equal(siteKey, document.Contains("keyId"));
        Assert.Equal(BsonType.DateTime, document["idleExpiresAt"].BsonType); // a TTL index reads only dates
        Assert.Equal(session, MongoSessionSchema.ToSession(document));
    }

    [Fact]
    public void Queries_are_served_by_the_id_and_the_ttl_index()
    {
        Assert.Equal("""{ "_id" : "h" }""", MongoSessionSchema.ById("h").Filter.Render(Args).ToJson());
        Assert.Equal("""{ "idleExpiresAt" : { "$lte" : { "$date" : "2026-11-25T09:30:15.123Z" } } }""", MongoSessionSchema.Expired(T0).Filter.Render(Args).ToJson());
        var ttl = Assert.Single(MongoSessionSchema.Indexes);
        Assert.Equal("""{ "idleExpiresAt" : 1 }""", ttl.Keys.Render(Args).ToJson());
        Assert.Equal(TimeSpan.Zero, ttl.Options.ExpireAfter);
    }

    [Fact]
    public void Extending_is_one_server_side_step_that_only_moves_forward_and_stops_at_the_absolute_end()
    {
        var update = MongoSessionSchema.Extend(T0).Render(Args);
        Assert.Equal(
            """[{ "$set" : { "idleExpiresAt" : { "$min" : ["$expiresAt", { "$max" : ["$idleExpiresAt", { "$date" : "2026-11-25T09:30:15.123Z" }] }] } } }]""",
            update.ToJson());
    }
}
