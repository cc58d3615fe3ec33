using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Webhooks;
using MongoDB.Bson;
using MongoDB.Driver;
using W = ConsentService.Storage.Mongo.MongoWebhookSchema;

namespace ConsentService.Storage.Mongo;

/// <summary>Webhook endpoints and the outbox (see <see cref="IWebhookStore"/>); outbox writes join the ledger's transactions.</summary>
public sealed partial class MongoConsentStore : IWebhookStore
{
    /// <summary>Stamps the messages the store makes itself (an erasure's).</summary>
    public TimeProvider WebhookClock { get; init; } = TimeProvider.System;

    private async Task CreateWebhookIndexesAsync(CancellationToken ct)
    {
        foreach (var (collection, indexes) in W.Indexes)
        {
            await Collection(collection).Indexes.CreateManyAsync(indexes, ct);
        }
    }

    // ---- the outbox, inside the ledger's transactions -----------------------------------------

    private async Task EnqueueWebhookAsync(IClientSessionHandle session, OutboxEvent outboxEvent, CancellationToken ct)
    {
        var endpoints = await Find(W.EnabledEndpointsFor(outboxEvent.SiteId, outboxEvent.Type), session).ToListAsync(ct);
        if (endpoints.Count == 0) return;
        var message = outboxEvent.Message();
        await Collection(W.Messages).InsertOneAsync(session, new BsonDocument
        {
            ["_id"] = message.Id,
            ["siteId"] = message.SiteId,
            ["type"] = message.Type,
            ["orderingKey"] = message.OrderingKey is null ? BsonNull.Value : message.OrderingKey,
            ["position"] = message.Sequence,
            ["payload"] = message.Payload,
            ["createdAt"] = new BsonDateTime(message.CreatedAt.UtcDateTime),
        }, cancellationToken: ct);
        await Collection(W.Deliveries).InsertManyAsync(session, endpoints.Select(e => new BsonDocument
        {
            ["_id"] = W.DeliveryId(message.Id, e["_id"].AsString),
            ["messageId"] = message.Id,
            ["endpointId"] = e["_id"].AsString,
            ["siteId"] = message.SiteId,
            ["type"] = message.Type,
            ["orderingKey"] = message.OrderingKey is null ? BsonNull.Value : message.OrderingKey,
            ["position"] = message.Sequence,
            ["createdAt"] = new BsonDateTime(message.CreatedAt.UtcDateTime),
            ["status"] = W.Pending,
            ["attempts"] = 0,
            ["nextAttemptAt"] = new BsonDateTime(message.CreatedAt.UtcDateTime),
        }), cancellationToken: ct);
    }

    /// <summary>In an erasure's transaction, with the subject's key still at hand: see <see cref="IWebhookStore"/>.</summary>
    private async Task ShredWebhookMessagesAsync(IClientSessionHandle session, string siteId, string subjectId, byte[] key, long lastPosition, CancellationToken ct)
    {
        var commitment = ConsentChain.Commit(key, subjectId);
        var messages = await Find(W.MessagesOfSubject(siteId, commitment), session).ToListAsync(ct);
        foreach (var message in messages)
        {
            var deliveries = W.DeliveriesOfMessage(message["_id"].AsString);
            await Collection(deliveries.Collection).DeleteManyAsync(session, deliveries.Filter, cancellationToken: ct);
        }
        var ofSubject = W.MessagesOfSubject(siteId, commitment);
        await Collection(ofSubject.Collection).DeleteManyAsync(session, ofSubject.Filter, cancellationToken: ct);
        await EnqueueWebhookAsync(session, WebhookEvents.Erased(siteId, subjectId, commitment, lastPosition, WebhookClock.Now()), ct);
    }

    /// <summary>A subject.erased message with no pending delivery keeps no payload.</summary>
    private async Task DestroyIfSettledErasureAsync(string messageId, CancellationToken ct)
    {
        if (await FirstAsync(W.PendingOfMessage(messageId), ct) is not null) return;
        var message = W.MessageById(messageId);
        await Collection(message.Collection).UpdateOneAsync(message.Filter & Builders<BsonDocument>.Filter.Eq("type", WebhookEvents.SubjectErased),
            Builders<BsonDocument>.Update.Unset("payload"), cancellationToken: ct);
    }

    // ---- endpoints ----------------------------------------------------------------------------

    public Task AddWebhookEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct) =>
        Collection(W.Endpoints).InsertOneAsync(EndpointToBson(endpoint), cancellationToken: ct);

    public async Task<IReadOnlyList<WebhookEndpoint>> ListWebhookEndpointsAsync(string siteId, CancellationToken ct) =>
        [.. (await ListAsync(W.EndpointsOfSite(siteId), ct)).Select(ToEndpoint)];

    public async Task<WebhookEndpoint?> GetWebhookEndpointAsync(string siteId, string endpointId, CancellationToken ct) =>
        await FirstAsync(W.EndpointById(siteId, endpointId), ct) is { } d ? ToEndpoint(d) : null;

    public async Task<bool> UpdateWebhookEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct)
    {
        var query = W.EndpointById(endpoint.SiteId, endpoint.Id);
        var result = await Collection(query.Collection).ReplaceOneAsync(query.Filter, EndpointToBson(endpoint), cancellationToken: ct);
        if (result.MatchedCount == 0) return false;
        if (endpoint.DisabledAt is not null) await GiveUpPendingAsync(endpoint.Id, ct);
        return true;
    }

    public async Task<bool> DeleteWebhookEndpointAsync(string siteId, string endpointId, CancellationToken ct)
    {
        var query = W.EndpointById(siteId, endpointId);
        var result = await Collection(query.Collection).DeleteOneAsync(query.Filter, ct);
        if (result.DeletedCount == 0) return false;
        var deliveries = W.DeliveriesOfEndpoint(endpointId);
        await Collection(deliveries.Collection).DeleteManyAsync(deliveries.Filter, ct);
        return true;
    }

    private async Task GiveUpPendingAsync(string endpointId, CancellationToken ct)
    {
        var pending = W.PendingOfEndpoint(endpointId);
        var messages = await Find(pending).Project(Builders<BsonDocument>.Projection.Include("messageId")).ToListAsync(ct);
        await Collection(pending.Collection).UpdateManyAsync(pending.Filter,
            Builders<BsonDocument>.Update.Set("status", W.Failed).Unset("leaseOwner").Unset("leaseUntil"), cancellationToken: ct);
        foreach (var message in messages) await DestroyIfSettledErasureAsync(message["messageId"].AsString, ct);
    }

    private static BsonDocument EndpointToBson(WebhookEndpoint e) => new()
    {
        ["_id"] = e.Id,
        ["siteId"] = e.SiteId,
        ["url"] = e.Url,
        ["events"] = new BsonArray(e.Events),
        ["description"] = e.Description is null ? BsonNull.Value : e.Description,
        ["secret"] = e.Secret,
        ["createdAt"] = new BsonDateTime(e.CreatedAt.UtcDateTime),
        ["disabledAt"] = e.DisabledAt is { } at ? new BsonDateTime(at.UtcDateTime) : BsonNull.Value,
        ["disabledReason"] = e.DisabledReason is null ? BsonNull.Value : e.DisabledReason,
        ["failingSince"] = e.FailingSince is { } since ? new BsonDateTime(since.UtcDateTime) : BsonNull.Value,
    };

    private static WebhookEndpoint ToEndpoint(BsonDocument d) => new(
        d["_id"].AsString, d["siteId"].AsString, d["url"].AsString, [.. d["events"].AsBsonArray.Select(v => v.AsString)],
        d["description"].IsBsonNull ? null : d["description"].AsString, d["secret"].AsString, ToDate(d["createdAt"]),
        OptionalDate(d, "disabledAt"), d["disabledReason"].IsBsonNull ? null : d["disabledReason"].AsString, OptionalDate(d, "failingSince"));

    private static DateTimeOffset ToDate(BsonValue value) => new(value.ToUniversalTime(), TimeSpan.Zero);

    private static DateTimeOffset? OptionalDate(BsonDocument d, string name) =>
        d.TryGetValue(name, out var value) && !value.IsBsonNull ? ToDate(value) : null;

    // ---- deliveries ---------------------------------------------------------------------------

    public async Task<IReadOnlyList<WebhookDelivery>> ListWebhookDeliveriesAsync(string siteId, string endpointId, int limit, CancellationToken ct)
    {
        var deliveries = await Find(W.DeliveriesOfEndpoint(endpointId)).Limit(limit).ToListAsync(ct);
        var views = new List<WebhookDelivery>(deliveries.Count);
        foreach (var d in deliveries.Where(d => d["siteId"].AsString == siteId))
        {
            var message = await FirstAsync(W.MessageById(d["messageId"].AsString), ct);
            views.Add(new WebhookDelivery(d["messageId"].AsString, endpointId, d["type"].AsString, d["status"].AsString, d["attempts"].ToInt32(),
                ToDate(d["createdAt"]), ToDate(d["nextAttemptAt"]), OptionalDate(d, "lastAttemptAt"),
                d.TryGetValue("lastStatus", out var code) && !code.IsBsonNull ? code.ToInt32() : null,
                d.TryGetValue("lastError", out var error) && !error.IsBsonNull ? error.AsString : null,
                OptionalDate(d, "deliveredAt"), message is null || !message.Contains("payload")));
        }
        return views;
    }

    public async Task<IReadOnlyList<LeasedDelivery>> LeaseWebhookDeliveriesAsync(
        string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken ct)
    {
        var leased = new List<LeasedDelivery>();
        var candidates = await Find(W.DueDeliveries(now)).Limit(max * 4).ToListAsync(ct);
        foreach (var candidate in candidates)
        {
            if (leased.Count >= max) break;
            if (candidate.TryGetValue("leaseUntil", out var until) && !until.IsBsonNull && ToDate(until) > now) continue;
            if (!candidate["orderingKey"].IsBsonNull && await FirstAsync(W.EarlierPendingOfSubject(
                    candidate["endpointId"].AsString, candidate["orderingKey"].AsString, candidate["position"].ToInt64()), ct) is not null)
            {
                continue;
            }
            var endpoint = await FirstAsync(W.EndpointById(candidate["siteId"].AsString, candidate["endpointId"].AsString), ct);
            if (endpoint is null || !endpoint["disabledAt"].IsBsonNull) continue;
            // The lease is taken only if nobody else took it since the read: one sender at a time.
            var free = Builders<BsonDocument>.Filter.Eq("_id", candidate["_id"]) & Builders<BsonDocument>.Filter.Eq("status", W.Pending)
                & (Builders<BsonDocument>.Filter.Eq("leaseUntil", BsonNull.Value) | Builders<BsonDocument>.Filter.Lte("leaseUntil", now.UtcDateTime));
            var taken = await Collection(W.Deliveries).FindOneAndUpdateAsync(free,
                Builders<BsonDocument>.Update.Set("leaseOwner", owner).Set("leaseUntil", (now + lease).UtcDateTime), cancellationToken: ct);
            if (taken is null) continue;
            var message = await FirstAsync(W.MessageById(taken["messageId"].AsString), ct);
            if (message is null) continue;
            leased.Add(new LeasedDelivery(message["_id"].AsString, endpoint["_id"].AsString, message["siteId"].AsString, message["type"].AsString,
                message.TryGetValue("payload", out var payload) ? payload.AsString : null, taken["attempts"].ToInt32(),
                endpoint["url"].AsString, endpoint["secret"].AsString, OptionalDate(endpoint, "failingSince")));
        }
        return leased;
    }

    public async Task CompleteWebhookDeliveryAsync(DeliveryOutcome outcome, CancellationToken ct)
    {
        var delivery = W.DeliveryById(outcome.MessageId, outcome.EndpointId);
        var status = outcome.Delivered ? DeliveryStatus.Delivered : outcome.NextAttemptAt is null ? DeliveryStatus.Failed : DeliveryStatus.Pending;
        var update = Builders<BsonDocument>.Update.Set("status", status).Inc("attempts", 1).Set("lastAttemptAt", outcome.At.UtcDateTime)
            .Set("lastStatus", outcome.StatusCode is { } code ? (BsonValue)code : BsonNull.Value)
            .Set("lastError", outcome.Error is { } error ? (BsonValue)error : BsonNull.Value).Unset("leaseOwner").Unset("leaseUntil");
        if (outcome.NextAttemptAt is { } next) update = update.Set("nextAttemptAt", next.UtcDateTime);
        if (outcome.Delivered) update = update.Set("deliveredAt", outcome.At.UtcDateTime);
        await Collection(delivery.Collection).UpdateOneAsync(delivery.Filter & Builders<BsonDocument>.Filter.Eq("status", W.Pending), update, cancellationToken: ct);

        var endpointQuery = new MongoQuery(W.Endpoints, Builders<BsonDocument>.Filter.Eq("_id", outcome.EndpointId));
        var endpoints = Collection(W.Endpoints);
        if (outcome.Delivered)
        {
            await endpoints.UpdateOneAsync(endpointQuery.Filter, Builders<BsonDocument>.Update.Set("failingSince", BsonNull.Value), cancellationToken: ct);
        }
        else
        {
            await endpoints.UpdateOneAsync(endpointQuery.Filter & Builders<BsonDocument>.Filter.Eq("failingSince", BsonNull.Value),
                Builders<BsonDocument>.Update.Set("failingSince", outcome.At.UtcDateTime), cancellationToken: ct);
        }
        if (outcome.DisableReason is { } reason)
        {
            await endpoints.UpdateOneAsync(endpointQuery.Filter & Builders<BsonDocument>.Filter.Eq("disabledAt", BsonNull.Value),
                Builders<BsonDocument>.Update.Set("disabledAt", outcome.At.UtcDateTime).Set("disabledReason", reason), cancellationToken: ct);
            await GiveUpPendingAsync(outcome.EndpointId, ct);
        }
        await DestroyIfSettledErasureAsync(outcome.MessageId, ct);
    }

    public async Task<bool> RedeliverWebhookMessageAsync(string siteId, string endpointId, string messageId, DateTimeOffset now, CancellationToken ct)
    {
        if (await FirstAsync(W.MessageById(messageId), ct) is not { } message || message["siteId"].AsString != siteId || !message.Contains("payload"))
        {
            return false;
        }
        var delivery = W.DeliveryById(messageId, endpointId);
        var result = await Collection(delivery.Collection).UpdateOneAsync(delivery.Filter, Again(now), cancellationToken: ct);
        return result.MatchedCount > 0;
    }

    public async Task<int> RedeliverFailedWebhooksAsync(string siteId, string endpointId, DateTimeOffset since, DateTimeOffset now, CancellationToken ct)
    {
        if (await GetWebhookEndpointAsync(siteId, endpointId, ct) is null) return 0;
        var failed = W.FailedOfEndpointSince(endpointId, since);
        var count = 0;
        foreach (var d in await Find(failed).ToListAsync(ct))
        {
            if (await FirstAsync(W.MessageById(d["messageId"].AsString), ct) is not { } message || !message.Contains("payload")) continue;
            var one = W.DeliveryById(d["messageId"].AsString, endpointId);
            count += (int)(await Collection(one.Collection).UpdateOneAsync(one.Filter, Again(now), cancellationToken: ct)).ModifiedCount;
        }
        return count;
    }

    private static UpdateDefinition<BsonDocument> Again(DateTimeOffset now) =>
        Builders<BsonDocument>.Update.Set("status", W.Pending).Set("nextAttemptAt", now.UtcDateTime).Unset("leaseOwner").Unset("leaseUntil");
}
