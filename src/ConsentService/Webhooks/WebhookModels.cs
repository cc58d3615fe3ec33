using System.ComponentModel.DataAnnotations;

namespace ConsentService.Webhooks;

/// <summary>
/// A receiver a site's admin registered. <see cref="Secret"/> (<c>whsec_…</c>, Standard Webhooks) signs every
/// message; the API shows it once. <see cref="DisabledAt"/> is set by an admin or when deliveries kept failing
/// for <see cref="WebhookOptions.DisableAfter"/> (then <see cref="DisabledReason"/> says why).
/// </summary>
public sealed record WebhookEndpoint(
    string Id,
    string SiteId,
    string Url,
    IReadOnlyList<string> Events,
    string? Description,
    string Secret,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DisabledAt = null,
    string? DisabledReason = null,
    DateTimeOffset? FailingSince = null);

/// <summary>
/// One event in the outbox, written in the transaction of the change it reports. <see cref="OrderingKey"/>
/// (the subject's commitment, or null) and <see cref="Sequence"/> (the ledger position) order an endpoint's
/// deliveries: a later message of a subject waits for the earlier one. <see cref="Payload"/> is the exact body
/// sent (so a redelivery is byte for byte the same); null once destroyed after an erasure.
/// </summary>
public sealed record WebhookMessage(string Id, string SiteId, string Type, string? OrderingKey, long Sequence, string Payload, DateTimeOffset CreatedAt);

public static class DeliveryStatus
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    /// <summary>Given up: the retry schedule ran out or the endpoint was disabled; a redelivery makes it pending again.</summary>
    public const string Failed = "failed";
}

/// <summary>One message's delivery to one endpoint, as the admin sees it.</summary>
public sealed record WebhookDelivery(
    string MessageId,
    string EndpointId,
    string Type,
    string Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset NextAttemptAt,
    DateTimeOffset? LastAttemptAt,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset? DeliveredAt,
    bool PayloadDestroyed);

/// <summary>A pending delivery a worker holds a lease on, with what it needs to send it.</summary>
public sealed record LeasedDelivery(
    string MessageId,
    string EndpointId,
    string SiteId,
    string Type,
    string? Payload,
    int Attempts,
    string Url,
    string Secret,
    DateTimeOffset? FailingSince);

/// <summary>
/// What one attempt came to. <see cref="NextAttemptAt"/> null after a failure: given up (failed).
/// <see cref="DisableReason"/> set: the endpoint is disabled with that reason.
/// </summary>
public sealed record DeliveryOutcome(
    string MessageId,
    string EndpointId,
    string Type,
    string LeaseOwner,
    DateTimeOffset At,
    bool Delivered,
    int? StatusCode,
    string? Error,
    DateTimeOffset? NextAttemptAt,
    string? DisableReason = null);

// ---- API ---------------------------------------------------------------------------------------

/// <param name="Events">Event types to receive; empty or missing: all of them.</param>
public sealed record CreateWebhookRequest(
    [property: Required] string Url,
    IReadOnlyList<string>? Events = null,
    [property: StringLength(200)] string? Description = null);

/// <param name="Enabled">True re-enables a disabled endpoint (its failure clock starts afresh); false disables it.</param>
public sealed record UpdateWebhookRequest(
    string? Url = null,
    IReadOnlyList<string>? Events = null,
    [property: StringLength(200)] string? Description = null,
    bool? Enabled = null);

/// <summary>An endpoint as the API shows it: never its secret.</summary>
public sealed record WebhookEndpointView(
    string Id,
    string Url,
    IReadOnlyList<string> Events,
    string? Description,
    DateTimeOffset CreatedAt,
    string Status,
    DateTimeOffset? DisabledAt,
    string? DisabledReason,
    DateTimeOffset? FailingSince,
    IReadOnlyList<WebhookDelivery>? RecentDeliveries = null)
{
    public static WebhookEndpointView From(WebhookEndpoint e, IReadOnlyList<WebhookDelivery>? recent = null) => new(
        e.Id, e.Url, e.Events, e.Description, e.CreatedAt, e.DisabledAt is null ? "enabled" : "disabled",
        e.DisabledAt, e.DisabledReason, e.FailingSince, recent);
}

/// <summary>The answer to a registration or a rotation: the only time the secret is shown.</summary>
public sealed record WebhookEndpointCreated(WebhookEndpointView Endpoint, string Secret);

/// <param name="Since">Every failed delivery of the endpoint whose message was created at or after this time.</param>
public sealed record RecoverWebhooksRequest(DateTimeOffset? Since = null);

public sealed record RedeliveryAccepted(int Deliveries);
