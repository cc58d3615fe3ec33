using MongoDB.Bson;
using MongoDB.Driver;

namespace ConsentService.Storage.Mongo;

/// <summary>
/// The webhook collections, their indexes and every query the store sends for them, built here only, so a test
/// checks each against the indexes without a server (as <see cref="MongoSchema"/> does for the ledger).
/// </summary>
public static class MongoWebhookSchema
{
    public const string Endpoints = "webhookEndpoints";
    /// <summary>The outbox: one document per event, <c>_id</c> = the webhook-id.</summary>
    public const string Messages = "webhookMessages";
    /// <summary>One document per message and endpoint, <c>_id</c> = "messageId endpointId".</summary>
    public const string Deliveries = "webhookDeliveries";

    public const string Pending = "pending";
    public const string Failed = "failed";

    private static readonly FilterDefinitionBuilder<BsonDocument> F = Builders<BsonDocument>.Filter;
    private static readonly SortDefinitionBuilder<BsonDocument> S = Builders<BsonDocument>.Sort;
    private static readonly IndexKeysDefinitionBuilder<BsonDocument> K = Builders<BsonDocument>.IndexKeys;

    public static IReadOnlyDictionary<string, IReadOnlyList<CreateIndexModel<BsonDocument>>> Indexes { get; } =
        new Dictionary<string, IReadOnlyList<CreateIndexModel<BsonDocument>>>
        {
            [Endpoints] =
            [
                Index(K.Ascending("siteId").Ascending("createdAt").Ascending("_id"), "ix_site_created"),
                Index(K.Ascending("siteId").Ascending("events").Ascending("disabledAt"), "ix_site_events_disabled"),
            ],
            [Messages] = [Index(K.Ascending("siteId").Ascending("orderingKey"), "ix_site_orderingKey")],
            [Deliveries] =
            [
                Index(K.Ascending("status").Ascending("nextAttemptAt"), "ix_status_due"),
                // A subject's earlier pending delivery to the same endpoint holds the later ones back.
                Index(K.Ascending("endpointId").Ascending("orderingKey").Ascending("status").Ascending("position"), "ix_endpoint_subject_order"),
                Index(K.Ascending("endpointId").Ascending("createdAt"), "ix_endpoint_created"),
                Index(K.Ascending("endpointId").Ascending("status").Ascending("createdAt"), "ix_endpoint_status_created"),
                Index(K.Ascending("messageId").Ascending("status"), "ix_message_status"),
            ],
        };

    public static MongoQuery EndpointsOfSite(string siteId) => new(Endpoints, F.Eq("siteId", siteId), S.Ascending("createdAt").Ascending("_id"));

    public static MongoQuery EnabledEndpointsFor(string siteId, string type) =>
        new(Endpoints, F.Eq("siteId", siteId) & F.Eq("events", type) & F.Eq("disabledAt", BsonNull.Value));

    public static MongoQuery EndpointById(string siteId, string endpointId) => new(Endpoints, F.Eq("_id", endpointId) & F.Eq("siteId", siteId));

    public static MongoQuery MessagesOfSubject(string siteId, string orderingKey) =>
        new(Messages, F.Eq("siteId", siteId) & F.Eq("orderingKey", orderingKey));

    public static MongoQuery MessageById(string messageId) => new(Messages, F.Eq("_id", messageId));

    public static MongoQuery DeliveryById(string messageId, string endpointId) => new(Deliveries, F.Eq("_id", DeliveryId(messageId, endpointId)));

    public static MongoQuery DueDeliveries(DateTimeOffset now) =>
        new(Deliveries, F.Eq("status", Pending) & F.Lte("nextAttemptAt", now.UtcDateTime), S.Ascending("nextAttemptAt"));

    public static MongoQuery EarlierPendingOfSubject(string endpointId, string orderingKey, long position) =>
        new(Deliveries, F.Eq("endpointId", endpointId) & F.Eq("orderingKey", orderingKey) & F.Eq("status", Pending) & F.Lt("position", position));

    public static MongoQuery DeliveriesOfEndpoint(string endpointId) => new(Deliveries, F.Eq("endpointId", endpointId), S.Descending("createdAt"));

    public static MongoQuery PendingOfEndpoint(string endpointId) => new(Deliveries, F.Eq("endpointId", endpointId) & F.Eq("status", Pending));

    public static MongoQuery FailedOfEndpointSince(string endpointId, DateTimeOffset since) =>
        new(Deliveries, F.Eq("endpointId", endpointId) & F.Eq("status", Failed) & F.Gte("createdAt", since.UtcDateTime));

    public static MongoQuery PendingOfMessage(string messageId) => new(Deliveries, F.Eq("messageId", messageId) & F.Eq("status", Pending));

    public static MongoQuery DeliveriesOfMessage(string messageId) => new(Deliveries, F.Eq("messageId", messageId));

    public static string DeliveryId(string messageId, string endpointId) => messageId + " " + endpointId;

    private static CreateIndexModel<BsonDocument> Index(IndexKeysDefinition<BsonDocument> keys, string name) =>
        new(keys, new CreateIndexOptions<BsonDocument> { Name = name });
}
