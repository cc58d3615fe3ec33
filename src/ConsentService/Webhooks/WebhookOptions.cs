using System.ComponentModel.DataAnnotations;

namespace ConsentService.Webhooks;

/// <summary>Configuration section <c>Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>Endpoints must use https; null: yes, except in Development.</summary>
    public bool? RequireHttps { get; set; }

    /// <summary>
    /// Deliver to loopback, private, link-local and other non-public addresses. Off: such an address is refused
    /// at registration (a literal one) and at every connection (a name resolving to one), so an admin cannot make
    /// the service call into its own network (SSRF).
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Run the delivery worker in this instance (each instance runs one; leases keep them apart).</summary>
    public bool DeliveryEnabled { get; set; } = true;

    /// <summary>How long an idle worker waits before looking for due deliveries again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a worker holds a delivery; another one takes it over after that (a crashed instance).</summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(2);

    [Range(1, 256)]
    public int BatchSize { get; set; } = 32;

    /// <summary>One HTTP attempt's limit (Polly timeout).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Quick retries within one delivery attempt (Polly, exponential with jitter), for a blip.</summary>
    [Range(0, 5)]
    public int QuickRetries { get; set; } = 2;

    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:30")]
    public TimeSpan QuickRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The durable schedule after a failed attempt: this, doubling per attempt up to <see cref="MaxRetryDelay"/>, with jitter.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A message is given up (failed, redeliverable by hand) after this many attempts.</summary>
    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = 40;

    /// <summary>An endpoint whose deliveries have failed, without a success, for this long is disabled.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromHours(24);
}
