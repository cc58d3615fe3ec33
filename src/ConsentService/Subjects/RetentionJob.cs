using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ConsentService.Subjects;

public sealed class RetentionOptions
{
    public const string Section = "Retention";

    /// <summary>How often subjects past their site's retention are shredded.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How far the clock may run ahead of the newest stored record before retention (and audit
    /// retention) stops deleting, suspecting the clock (<see cref="Infrastructure.ClockGuard"/>).
    /// </summary>
    public TimeSpan MaxClockLead { get; set; } = TimeSpan.FromDays(1);
}

/// <summary>
/// Shreds, the way an erasure does, every subject whose last record is older than its site's
/// <see cref="Site.RetentionDays"/>: the proof is kept only as long as needed (GDPR Art. 5(1)(e)).
/// </summary>
public sealed partial class RetentionJob(
    IConsentStore store, SiteDirectory sites, ConsentLedger ledger, TimeProvider time, IOptions<RetentionOptions> options,
    ClockGuard clock, ILogger<RetentionJob> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        SiteJobs.RunEveryAsync(options.Value.Interval, time, store, ShredExpiredAsync, LogFailed, stoppingToken, ClockAllowsAsync);

    private Task<bool> ClockAllowsAsync(CancellationToken ct) => clock.MayDeleteAsync("Retention", ct);

    private async Task ShredExpiredAsync(string siteId, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is not { } site) return;
        var cutoff = time.Now().AddDays(-site.RetentionDays);
        var shredded = 0;
        var idle = new List<string>();
        await foreach (var subjectId in store.SubjectsIdleSinceAsync(siteId, cutoff, ct))
        {
            idle.Add(subjectId);
        }
        // Together, not one by one: erasures that arrive together share one commit and one scrub of the
        // store's log (see SqliteConsentStore), instead of a checkpoint per subject.
        foreach (var chunk in idle.Chunk(ErasuresPerBatch))
        {
            var erased = await Task.WhenAll(chunk.Select(subjectId => ledger.EraseAsync(siteId, subjectId, ct)));
            shredded += erased.Count(commitment => commitment is not null);
        }
        if (shredded > 0) LogShredded(shredded, siteId, site.RetentionDays);
    }

    private const int ErasuresPerBatch = 256;

    [LoggerMessage(LogLevel.Information, "Shredded {Count} subjects of site {SiteId} past its {Days}-day retention")]
    private partial void LogShredded(int count, string siteId, int days);

    [LoggerMessage(LogLevel.Error, "Retention for site {SiteId} failed")]
    private partial void LogFailed(Exception e, string siteId);
}

public static class RetentionSetup
{
    public static WebApplicationBuilder AddRetention(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section)
            .Validate(o => o.Interval >= TimeSpan.FromSeconds(1), "Retention:Interval must be at least one second.")
            .Validate(o => o.MaxClockLead >= TimeSpan.FromHours(1), "Retention:MaxClockLead must be at least one hour.")
            .ValidateOnStart();
        builder.Services.AddSingleton<ClockGuard>();
        builder.Services.AddHealthChecks().AddCheck<ClockHealthCheck>("clock", HealthStatus.Degraded, ["ready"]);
        if (!OpenApiSetup.IsGeneratingDocument)
        {
            builder.Services.AddHostedService<RetentionJob>();
        }
        return builder;
    }
}
