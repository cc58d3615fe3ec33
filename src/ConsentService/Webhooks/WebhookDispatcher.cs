using ConsentService.Infrastructure;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

namespace ConsentService.Webhooks;

/// <summary>
/// The delivery worker, one per instance: leases due deliveries from the outbox, sends them, records the outcome.
/// At least once: a delivery is marked done only after the receiver's 2xx, so a crash in between sends it again,
/// with the same webhook-id, once the lease runs out (or at once after a restart of this worker's instance,
/// whose leases another owner id cannot reuse early: they expire by time).
/// </summary>
public sealed partial class WebhookDispatcher(
    IConsentStore store, WebhookSender sender, IOptions<WebhookOptions> options, TimeProvider time, ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private readonly string _owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var batch = await store.LeaseWebhookDeliveriesAsync(_owner, time.Now(), o.LeaseDuration, o.BatchSize, stoppingToken);
                if (batch.Count > 0)
                {
                    // One subject's messages are never in one batch together (the store leases a subject's first only).
                    await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken },
                        async (delivery, ct) => await DeliverAsync(delivery, ct));
                    continue;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e);
            }
            // The wake-up cadence is real time whatever the app's clock says: a fake clock in tests must not stop it.
            await Task.Delay(o.PollInterval, stoppingToken);
        }
    }

    private async Task DeliverAsync(LeasedDelivery delivery, CancellationToken ct)
    {
        var result = await sender.SendAsync(delivery, ct);
        var o = options.Value;
        var now = time.Now();
        var attempts = delivery.Attempts + 1;
        DateTimeOffset? next = null;
        string? disable = null;
        if (!result.Delivered)
        {
            if (attempts < o.MaxAttempts) next = now + Backoff(attempts, o);
            if (delivery.FailingSince is { } since && now - since >= o.DisableAfter)
            {
                disable = $"Every delivery failed for {o.DisableAfter.TotalHours:0.##} h (since {since:u}); the last: {result.Error}";
            }
            LogAttemptFailed(logger, delivery.MessageId, delivery.EndpointId, result.Error);
        }
        await store.CompleteWebhookDeliveryAsync(new DeliveryOutcome(delivery.MessageId, delivery.EndpointId, delivery.Type, _owner, now,
            result.Delivered, result.StatusCode, result.Error, next, disable), CancellationToken.None);
    }

    /// <summary>Exponential (first delay doubling per attempt, capped), with jitter down to half so retries of many messages spread out.</summary>
    public static TimeSpan Backoff(int attempts, WebhookOptions o)
    {
        var exponential = o.FirstRetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempts - 1, 30));
        var capped = Math.Min(exponential, o.MaxRetryDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + Random.Shared.NextDouble() / 2));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The webhook worker's pass failed; it tries again.")]
    private static partial void LogFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {MessageId} to endpoint {EndpointId} failed: {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, string messageId, string endpointId, string? error);
}
