using ConsentService.Webhooks;

namespace ConsentService.Storage;

/// <summary>
/// Webhook endpoints and the outbox. The outbox rows themselves are written by <see cref="IConsentStore"/> in the
/// transaction of the append, erasure or publication they report (one delivery per enabled endpoint subscribed
/// to the type), so a committed change always has its messages and a failed one never does. An erasure deletes
/// every message of the subject (queued or delivered) and queues <c>subject.erased</c>, whose payload is destroyed
/// as soon as no delivery of it is pending. Every adapter passes <c>WebhookStoreContract</c>.
/// </summary>
public interface IWebhookStore
{
    Task AddWebhookEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct);
    Task<IReadOnlyList<WebhookEndpoint>> ListWebhookEndpointsAsync(string siteId, CancellationToken ct);
    Task<WebhookEndpoint?> GetWebhookEndpointAsync(string siteId, string endpointId, CancellationToken ct);

    /// <summary>
    /// Replaces url, events, description, secret and the disabled state; false when there is no such endpoint.
    /// Disabling gives up its pending deliveries (failed); enabling clears the failure clock.
    /// </summary>
    Task<bool> UpdateWebhookEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct);

    /// <summary>Deletes the endpoint and its deliveries; false when there is no such endpoint.</summary>
    Task<bool> DeleteWebhookEndpointAsync(string siteId, string endpointId, CancellationToken ct);

    /// <summary>The endpoint's most recent deliveries, newest message first.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListWebhookDeliveriesAsync(string siteId, string endpointId, int limit, CancellationToken ct);

    /// <summary>
    /// Leases up to <paramref name="max"/> due deliveries to <paramref name="owner"/> until <paramref name="now"/> +
    /// <paramref name="lease"/>: pending, due, not leased by anyone else, of an enabled endpoint, and the first pending
    /// one of its subject for that endpoint (a later message of a subject waits for the earlier). Oldest first.
    /// </summary>
    Task<IReadOnlyList<LeasedDelivery>> LeaseWebhookDeliveriesAsync(string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken ct);

    /// <summary>Records an attempt's outcome, releases the lease, updates the endpoint's failure clock (or disables it).</summary>
    Task CompleteWebhookDeliveryAsync(DeliveryOutcome outcome, CancellationToken ct);

    /// <summary>Makes one message's delivery to the endpoint pending and due now; false when there is none or its payload is destroyed.</summary>
    Task<bool> RedeliverWebhookMessageAsync(string siteId, string endpointId, string messageId, DateTimeOffset now, CancellationToken ct);

    /// <summary>Makes every failed delivery of the endpoint whose message was created at or after <paramref name="since"/> pending; how many.</summary>
    Task<int> RedeliverFailedWebhooksAsync(string siteId, string endpointId, DateTimeOffset since, DateTimeOffset now, CancellationToken ct);
}
