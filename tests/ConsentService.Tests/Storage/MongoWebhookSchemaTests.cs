using System.Reflection;
using ConsentService.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Serializers;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

/// <summary>The webhook collections' queries, rendered without a server, and an index behind each (as MongoSchemaTests for the ledger).</summary>
public sealed class MongoWebhookSchemaTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 30, 15, 123, TimeSpan.Zero);
    private static readonly RenderArgs<BsonDocument> Args = new(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry);

    public static TheoryData<string, string, string?> RenderedQueries => new()
    {
        { nameof(MongoWebhookSchema.EndpointsOfSite), """{ "siteId" : "s" }""", """{ "createdAt" : 1, "_id" : 1 }""" },
        { nameof(MongoWebhookSchema.EnabledEndpointsFor), """{ "siteId" : "s", "events" : "t", "disabledAt" : null }""", null },
        { nameof(MongoWebhookSchema.EndpointById), """{ "_id" : "e", "siteId" : "s" }""", null },
        { nameof(MongoWebhookSchema.MessagesOfSubject), """{ "siteId" : "s", "orderingKey" : "o" }""", null },
        { nameof(MongoWebhookSchema.MessageById), """{ "_id" : "m" }""", null },
        { nameof(MongoWebhookSchema.DeliveryById), """{ "_id" : "m e" }""", null },
        { nameof(MongoWebhookSchema.DueDeliveries), """{ "status" : "pending", "nextAttemptAt" : { "$lte" : { "$date" : "2026-11-25T09:30:15.123Z" } } }""", """{ "nextAttemptAt" : 1 }""" },
        { nameof(MongoWebhookSchema.EarlierPendingOfSubject), """{ "endpointId" : "e", "orderingKey" : "o", "status" : "pending", "position" : { "$lt" : 5 } }""", null },
        { nameof(MongoWebhookSchema.DeliveriesOfEndpoint), """{ "endpointId" : "e" }""", """{ "createdAt" : -1 }""" },
        { nameof(MongoWebhookSchema.PendingOfEndpoint), """{ "endpointId" : "e", "status" : "pending" }""", null },
        { nameof(MongoWebhookSchema.FailedOfEndpointSince), """{ "endpointId" : "e", "status" : "failed", "createdAt" : { "$gte" : { "$date" : "2026-11-25T09:30:15.123Z" } } }""", null },
        { nameof(MongoWebhookSchema.PendingOfMessage), """{ "messageId" : "m", "status" : "pending" }""", null },
        { nameof(MongoWebhookSchema.DeliveriesOfMessage), """{ "messageId" : "m" }""", null },
    };

    [Theory]
    [MemberData(nameof(RenderedQueries))]
    public void Each_query_sends_the_expected_filter_and_sort(string name, string filter, string? sort)
    {
        var query = Invoke(name);
        Assert.Equal(filter, query.Filter.Render(Args).ToJson());
        Assert.Equal(sort, query.Sort?.Render(Args).ToJson());
    }

    [Fact]
    public void The_table_above_lists_every_query() =>
        Assert.Equal(QueryFactories().Select(m => m.Name).Order(), RenderedQueries.Select(row => (string)row[0]).Order());

    [Fact]
    public void An_index_serves_each_query_filter_and_sort()
    {
        foreach (var method in QueryFactories())
        {
            var query = Invoke(method.Name);
            var filter = query.Filter.Render(Args);
            var equalities = filter.Elements.Where(e => !IsOperator(e.Value)).Select(e => e.Name).ToHashSet();
            var sort = query.Sort?.Render(Args).Elements.Select(e => (e.Name, e.Value.ToInt32())).ToList() ?? [];
            if (equalities.Contains("_id")) continue; // the collection's own _id index
            var served = MongoWebhookSchema.Indexes[query.Collection].Any(index =>
            {
                var keys = index.Keys.Render(Args).Elements.Select(e => (e.Name, e.Value.ToInt32())).ToList();
                if (keys.Count < equalities.Count + sort.Count || !keys.Take(equalities.Count).Select(k => k.Name).ToHashSet().SetEquals(equalities))
                {
                    return false;
                }
                var next = keys.Skip(equalities.Count).Take(sort.Count).ToList();
                return next.Zip(sort).All(p => p.First.Name == p.Second.Name && p.First.Item2 == p.Second.Item2)
                    || next.Zip(sort).All(p => p.First.Name == p.Second.Name && p.First.Item2 == -p.Second.Item2);
            });
            Assert.True(served, $"No index on {query.Collection} serves {method.Name}: filter {filter}, sort {query.Sort?.Render(Args)}");
        }
    }

    [Fact]
    public void The_webhook_collections_are_apart_from_the_ledgers() =>
        Assert.Empty(MongoWebhookSchema.Indexes.Keys.Intersect(MongoSchema.Indexes.Keys));

    private static bool IsOperator(BsonValue value) => value is BsonDocument { ElementCount: > 0 } d && d.GetElement(0).Name.StartsWith('$');

    private static IEnumerable<MethodInfo> QueryFactories() =>
        typeof(MongoWebhookSchema).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(MongoQuery));

    private static MongoQuery Invoke(string name)
    {
        var method = typeof(MongoWebhookSchema).GetMethod(name)!;
        var args = method.GetParameters().Select(object (p) => p.ParameterType == typeof(long) ? 5L
            : p.ParameterType == typeof(DateTimeOffset) ? T0
            : p.Name switch
            {
                "siteId" => "s",
                "endpointId" => "e",
                "messageId" => "m",
                "orderingKey" => "o",
                "type" => "t",
                _ => throw new InvalidOperationException($"No sample for parameter {p.Name}"),
            }).ToArray();
        return (MongoQuery)method.Invoke(null, args)!;
    }
}
