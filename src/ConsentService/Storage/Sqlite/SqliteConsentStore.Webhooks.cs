using System.Data.Common;
using System.Text.Json;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Webhooks;
using Microsoft.Data.Sqlite;
using static ConsentService.Storage.Sqlite.SqliteCommands;

namespace ConsentService.Storage.Sqlite;

/// <summary>Webhook endpoints and the outbox (see <see cref="IWebhookStore"/>).</summary>
public sealed partial class SqliteConsentStore : IWebhookStore
{
    /// <summary>Stamps the messages the store makes itself (an erasure's); the app's clock, so tests can fake it.</summary>
    public TimeProvider WebhookClock { get; init; } = TimeProvider.System;

    private const string WebhookSchema = """
        CREATE TABLE IF NOT EXISTS webhook_endpoints (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            url TEXT NOT NULL,
            events TEXT NOT NULL, -- JSON array of event types
            description TEXT,
            secret TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            disabled_at INTEGER,
            disabled_reason TEXT,
            failing_since INTEGER
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_webhook_endpoints_site ON webhook_endpoints (site_id, created_at);
        -- The outbox: seq is commit order (AUTOINCREMENT: never reused), so position order within a site.
        CREATE TABLE IF NOT EXISTS webhook_messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            site_id TEXT NOT NULL,
            type TEXT NOT NULL,
            ordering_key TEXT,
            position INTEGER NOT NULL,
            payload TEXT, -- null once destroyed (a delivered subject.erased)
            created_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_webhook_messages_ordering ON webhook_messages (site_id, ordering_key) WHERE ordering_key IS NOT NULL;
        CREATE TABLE IF NOT EXISTS webhook_deliveries (
            message_seq INTEGER NOT NULL,
            endpoint_id TEXT NOT NULL,
            ordering_key TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            lease_owner TEXT,
            lease_until INTEGER,
            last_attempt_at INTEGER,
            last_status INTEGER,
            last_error TEXT,
            delivered_at INTEGER,
            PRIMARY KEY (message_seq, endpoint_id)
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
        CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_order ON webhook_deliveries (endpoint_id, ordering_key, status, message_seq);
        """;

    // ---- the outbox, written inside the ledger's own transactions ------------------------------

    /// <summary>
    /// Queues <paramref name="outboxEvent"/>'s message for every enabled endpoint of its site subscribed to its type, in
    /// the caller's transaction; nothing when there is none (the common case costs one indexed read, and no message is made).
    /// </summary>
    private static async Task EnqueueWebhookAsync(SqliteConnection connection, SqliteTransaction tx, OutboxEvent outboxEvent, CancellationToken ct)
    {
        var endpoints = await QueryAsync(connection, tx,
            """
            SELECT id FROM webhook_endpoints
            WHERE site_id = $site AND disabled_at IS NULL AND EXISTS (SELECT 1 FROM json_each(events) WHERE value = $type)
            """, r => r.GetString(0), ct, ("$site", outboxEvent.SiteId), ("$type", outboxEvent.Type));
        if (endpoints.Count == 0) return;
        var message = outboxEvent.Message();
        var seq = await ScalarAsync<long>(connection, tx,
            """
            INSERT INTO webhook_messages (id, site_id, type, ordering_key, position, payload, created_at)
            VALUES ($id, $site, $type, $key, $position, $payload, $created) RETURNING seq
            """, ct, ("$id", message.Id), ("$site", message.SiteId), ("$type", message.Type), ("$key", message.OrderingKey),
            ("$position", message.Sequence), ("$payload", message.Payload), ("$created", Millis(message.CreatedAt)));
        foreach (var endpoint in endpoints)
        {
            await ExecuteAsync(connection, tx,
                """
                INSERT INTO webhook_deliveries (message_seq, endpoint_id, ordering_key, status, attempts, next_attempt_at)
                VALUES ($seq, $endpoint, $key, 'pending', 0, $due)
                """, ct, ("$seq", seq), ("$endpoint", endpoint), ("$key", message.OrderingKey), ("$due", Millis(message.CreatedAt)));
        }
    }

    /// <summary>
    /// In an erasure's transaction, before the subject's key is deleted: every message of the subject goes (queued
    /// or delivered: they all name it), and <c>subject.erased</c> is queued in their place.
    /// </summary>
    private async Task ShredWebhookMessagesAsync(
        SqliteConnection connection, SqliteTransaction tx, string siteId, string subjectId, long? lastPosition, CancellationToken ct)
    {
        var key = await ScalarAsync<byte[]>(connection, tx, "SELECT subject_key FROM subjects WHERE site_id = $site AND subject_id = $subject", ct,
            ("$site", siteId), ("$subject", subjectId));
        if (key is null) return;
        var commitment = ConsentChain.Commit(key, subjectId);
        await ExecuteAsync(connection, tx,
            """
            DELETE FROM webhook_deliveries WHERE message_seq IN (SELECT seq FROM webhook_messages WHERE site_id = $site AND ordering_key = $key);
            DELETE FROM webhook_messages WHERE site_id = $site AND ordering_key = $key;
            """, ct, ("$site", siteId), ("$key", commitment));
        if (lastPosition is { } last)
        {
            await EnqueueWebhookAsync(connection, tx, WebhookEvents.Erased(siteId, subjectId, commitment, last, WebhookClock.Now()), ct);
        }
    }

    /// <summary>A subject.erased message whose deliveries are all settled keeps no payload (the subject id).</summary>
    private const string DestroySettledErasures = """
        UPDATE webhook_messages SET payload = NULL
        WHERE type = 'subject.erased' AND payload IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_seq = webhook_messages.seq AND d.status = 'pending');
        """;

    // ---- endpoints ----------------------------------------------------------------------------

    public Task AddWebhookEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct) =>
        WriteAsync((connection, tx) => ExecuteAsync(connection, tx,
            """
            INSERT INTO webhook_endpoints (id, site_id, url, events, description, secret, created_at, disabled_at, disabled_reason, failing_since)
            VALUES ($id, $site, $url, $events, $description, $secret, $created, $disabledAt, $reason, $failingSince)
            """, ct, EndpointParameters(endpoint)), ct);

    public async Task<IReadOnlyList<WebhookEndpoint>> ListWebhookEndpointsAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT * FROM webhook_endpoints WHERE site_id = $site ORDER BY created_at, id",
            ReadEndpoint, ct, ("$site", siteId));
    }

    public async Task<WebhookEndpoint?> GetWebhookEndpointAsync(string siteId, string endpointId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var found = await QueryAsync(connection, null, "SELECT * FROM webhook_endpoints WHERE site_id = $site AND id = $id",
            ReadEndpoint, ct, ("$site", siteId), ("$id", endpointId));
        return found.Count == 0 ? null : found[0];
    }

    public async Task<bool> UpdateWebhookEndpointAsync(WebhookEndpoint endpoint, CancellationToken ct)
    {
        var changed = false;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx,
                """
                UPDATE webhook_endpoints SET url = $url, events = $events, description = $description, secret = $secret,
                    disabled_at = $disabledAt, disabled_reason = $reason, failing_since = $failingSince
                WHERE site_id = $site AND id = $id
                """, ct, EndpointParameters(endpoint));
            changed = await ScalarAsync<long>(connection, tx, "SELECT changes()", ct) > 0;
            if (changed && endpoint.DisabledAt is not null)
            {
                await GiveUpPendingAsync(connection, tx, endpoint.Id, ct);
            }
        }, ct, scrub: endpoint.DisabledAt is not null);
        return changed;
    }

    public async Task<bool> DeleteWebhookEndpointAsync(string siteId, string endpointId, CancellationToken ct)
    {
        var deleted = false;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx, "DELETE FROM webhook_endpoints WHERE site_id = $site AND id = $id", ct, ("$site", siteId), ("$id", endpointId));
            deleted = await ScalarAsync<long>(connection, tx, "SELECT changes()", ct) > 0;
            if (!deleted) return;
            await ExecuteAsync(connection, tx,
                """
                DELETE FROM webhook_deliveries WHERE endpoint_id = $id;
                DELETE FROM webhook_messages WHERE site_id = $site AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_seq = webhook_messages.seq);
                """, ct, ("$site", siteId), ("$id", endpointId));
        }, ct, scrub: true);
        return deleted;
    }

    private static async Task GiveUpPendingAsync(SqliteConnection connection, SqliteTransaction tx, string endpointId, CancellationToken ct)
    {
        await ExecuteAsync(connection, tx,
            "UPDATE webhook_deliveries SET status = 'failed', lease_owner = NULL, lease_until = NULL WHERE endpoint_id = $id AND status = 'pending'",
            ct, ("$id", endpointId));
        await ExecuteAsync(connection, tx, DestroySettledErasures, ct);
    }

    private static (string, object?)[] EndpointParameters(WebhookEndpoint e) =>
    [
        ("$id", e.Id), ("$site", e.SiteId), ("$url", e.Url), ("$events", JsonSerializer.Serialize(e.Events, JsonDefaults.Options)),
        ("$description", e.Description), ("$secret", e.Secret), ("$created", Millis(e.CreatedAt)),
        ("$disabledAt", e.DisabledAt is { } at ? Millis(at) : null), ("$reason", e.DisabledReason),
        ("$failingSince", e.FailingSince is { } since ? Millis(since) : null),
    ];

    private static WebhookEndpoint ReadEndpoint(DbDataReader r) => new(
        r.GetString(r.GetOrdinal("id")),
        r.GetString(r.GetOrdinal("site_id")),
        r.GetString(r.GetOrdinal("url")),
        JsonSerializer.Deserialize<List<string>>(r.GetString(r.GetOrdinal("events")), JsonDefaults.Options)!,
        NullableString(r, "description"),
        r.GetString(r.GetOrdinal("secret")),
        FromMillis(r.GetInt64(r.GetOrdinal("created_at"))),
        NullableMillis(r, "disabled_at"),
        NullableString(r, "disabled_reason"),
        NullableMillis(r, "failing_since"));

    private static DateTimeOffset? NullableMillis(DbDataReader r, string column)
    {
        var ordinal = r.GetOrdinal(column);
        return r.IsDBNull(ordinal) ? null : FromMillis(r.GetInt64(ordinal));
    }

    // ---- deliveries ---------------------------------------------------------------------------

    public async Task<IReadOnlyList<WebhookDelivery>> ListWebhookDeliveriesAsync(string siteId, string endpointId, int limit, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null,
            """
            SELECT d.*, m.id AS message_id, m.type, m.created_at, m.payload IS NULL AS destroyed
            FROM webhook_deliveries d JOIN webhook_messages m ON m.seq = d.message_seq
            WHERE d.endpoint_id = $endpoint AND m.site_id = $site
            ORDER BY d.message_seq DESC LIMIT $limit
            """, r => new WebhookDelivery(
                r.GetString(r.GetOrdinal("message_id")),
                r.GetString(r.GetOrdinal("endpoint_id")),
                r.GetString(r.GetOrdinal("type")),
                r.GetString(r.GetOrdinal("status")),
                r.GetInt32(r.GetOrdinal("attempts")),
                FromMillis(r.GetInt64(r.GetOrdinal("created_at"))),
                FromMillis(r.GetInt64(r.GetOrdinal("next_attempt_at"))),
                NullableMillis(r, "last_attempt_at"),
                r.IsDBNull(r.GetOrdinal("last_status")) ? null : r.GetInt32(r.GetOrdinal("last_status")),
                NullableString(r, "last_error"),
                NullableMillis(r, "delivered_at"),
                r.GetBoolean(r.GetOrdinal("destroyed"))), ct, ("$endpoint", endpointId), ("$site", siteId), ("$limit", limit));
    }

    private const string DueDeliveries = """
        FROM webhook_deliveries d
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= $now AND (d.lease_until IS NULL OR d.lease_until <= $now)
          AND e.disabled_at IS NULL
          AND (d.ordering_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM webhook_deliveries p
                WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key AND p.status = 'pending' AND p.message_seq < d.message_seq))
        """;

    public async Task<IReadOnlyList<LeasedDelivery>> LeaseWebhookDeliveriesAsync(
        string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken ct)
    {
        // A read first: an idle poll must not cost a write transaction (and its sync to disk).
        await using (var reader = await OpenReadAsync(ct))
        {
            if (await ScalarAsync<long>(reader, null, $"SELECT EXISTS (SELECT 1 {DueDeliveries})", ct, ("$now", Millis(now))) == 0) return [];
        }
        var leased = new List<LeasedDelivery>();
        await WriteAsync(async (connection, tx) =>
        {
            leased.Clear();
            var due = await QueryAsync(connection, tx, $"SELECT d.message_seq, d.endpoint_id {DueDeliveries} ORDER BY d.message_seq LIMIT $max",
                r => (Seq: r.GetInt64(0), Endpoint: r.GetString(1)), ct, ("$now", Millis(now)), ("$max", max));
            foreach (var (seq, endpoint) in due)
            {
                var rows = await QueryAsync(connection, tx,
                    """
                    UPDATE webhook_deliveries SET lease_owner = $owner, lease_until = $until
                    WHERE message_seq = $seq AND endpoint_id = $endpoint
                    RETURNING message_seq, endpoint_id, attempts
                    """, r => r.GetInt32(2), ct, ("$owner", owner), ("$until", Millis(now + lease)), ("$seq", seq), ("$endpoint", endpoint));
                var details = await QueryAsync(connection, tx,
                    """
                    SELECT m.id, m.site_id, m.type, m.payload, e.url, e.secret, e.failing_since
                    FROM webhook_messages m, webhook_endpoints e WHERE m.seq = $seq AND e.id = $endpoint
                    """, r => new LeasedDelivery(r.GetString(0), endpoint, r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                        rows[0], r.GetString(4), r.GetString(5), r.IsDBNull(6) ? null : FromMillis(r.GetInt64(6))), ct, ("$seq", seq), ("$endpoint", endpoint));
                leased.AddRange(details);
            }
        }, ct);
        return leased;
    }

    public Task CompleteWebhookDeliveryAsync(DeliveryOutcome outcome, CancellationToken ct) =>
        WriteAsync(async (connection, tx) =>
        {
            var seq = await ScalarAsync<long?>(connection, tx, "SELECT seq FROM webhook_messages WHERE id = $id", ct, ("$id", outcome.MessageId));
            if (seq is null) return; // erased meanwhile
            var status = outcome.Delivered ? DeliveryStatus.Delivered : outcome.NextAttemptAt is null ? DeliveryStatus.Failed : DeliveryStatus.Pending;
            await ExecuteAsync(connection, tx,
                """
                UPDATE webhook_deliveries SET status = $status, attempts = attempts + 1, last_attempt_at = $at, last_status = $code, last_error = $error,
                    next_attempt_at = coalesce($next, next_attempt_at), delivered_at = CASE WHEN $delivered THEN $at ELSE delivered_at END,
                    lease_owner = NULL, lease_until = NULL
                WHERE message_seq = $seq AND endpoint_id = $endpoint AND status = 'pending'
                """, ct, ("$status", status), ("$at", Millis(outcome.At)), ("$code", outcome.StatusCode), ("$error", outcome.Error),
                ("$next", outcome.NextAttemptAt is { } next ? Millis(next) : null), ("$delivered", outcome.Delivered),
                ("$seq", seq), ("$endpoint", outcome.EndpointId));
            await ExecuteAsync(connection, tx,
                outcome.Delivered
                    ? "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $endpoint"
                    : "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $at) WHERE id = $endpoint",
                ct, ("$endpoint", outcome.EndpointId), ("$at", Millis(outcome.At)));
            if (outcome.DisableReason is { } reason)
            {
                await ExecuteAsync(connection, tx,
                    "UPDATE webhook_endpoints SET disabled_at = $at, disabled_reason = $reason WHERE id = $endpoint AND disabled_at IS NULL", ct,
                    ("$at", Millis(outcome.At)), ("$reason", reason), ("$endpoint", outcome.EndpointId));
                await GiveUpPendingAsync(connection, tx, outcome.EndpointId, ct);
            }
            else
            {
                await ExecuteAsync(connection, tx, DestroySettledErasures, ct);
            }
        }, ct, scrub: outcome.Type == WebhookEvents.SubjectErased || outcome.DisableReason is not null);

    public async Task<bool> RedeliverWebhookMessageAsync(string siteId, string endpointId, string messageId, DateTimeOffset now, CancellationToken ct)
    {
        var changed = false;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx,
                """
                UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $now, lease_owner = NULL, lease_until = NULL
                WHERE endpoint_id = $endpoint AND message_seq =
                    (SELECT seq FROM webhook_messages WHERE id = $message AND site_id = $site AND payload IS NOT NULL)
                """, ct, ("$now", Millis(now)), ("$endpoint", endpointId), ("$message", messageId), ("$site", siteId));
            changed = await ScalarAsync<long>(connection, tx, "SELECT changes()", ct) > 0;
        }, ct);
        return changed;
    }

    public async Task<int> RedeliverFailedWebhooksAsync(string siteId, string endpointId, DateTimeOffset since, DateTimeOffset now, CancellationToken ct)
    {
        var count = 0;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx,
                """
                UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $now, lease_owner = NULL, lease_until = NULL
                WHERE endpoint_id = $endpoint AND status = 'failed' AND message_seq IN
                    (SELECT seq FROM webhook_messages WHERE site_id = $site AND created_at >= $since AND payload IS NOT NULL)
                """, ct, ("$now", Millis(now)), ("$endpoint", endpointId), ("$site", siteId), ("$since", Millis(since)));
            count = (int)await ScalarAsync<long>(connection, tx, "SELECT changes()", ct);
        }, ct);
        return count;
    }
}
