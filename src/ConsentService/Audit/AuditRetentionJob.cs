using ConsentService.Infrastructure;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

namespace ConsentService.Audit;

/// <summary>
/// Deletes each site's audit events older than its <see cref="Site.AuditRetentionDays"/>: once as the
/// app starts (before it takes requests, so a restart never postpones retention), then every
/// <see cref="AuditOptions.RetentionInterval"/> of the injected clock, so tests drive it with a fake one.
/// Several instances may run it at once: deleting twice deletes nothing more.
/// </summary>
public sealed partial class AuditRetentionJob(
    IAuditStore store, SiteDirectory sites, TimeProvider time, IOptions<AuditOptions> options, ClockGuard clock,
    ILogger<AuditRetentionJob> logger) : BackgroundService
{
    private PeriodicTimer? _timer;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // The interval counts from start, whenever the loop below gets to run.
        _timer = new PeriodicTimer(options.Value.RetentionInterval, time);
        await SweepAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (await _timer!.WaitForNextTickAsync(stoppingToken))
        {
            await SweepAsync(stoppingToken);
        }
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    /// <summary>One pass over every site with events; a failing site is logged and the next one still swept.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        IReadOnlyList<string> siteIds;
        try
        {
            siteIds = await store.ListSiteIdsAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogSweepFailed(e);
            return;
        }
        try
        {
            if (!await clock.MayDeleteAsync("Audit retention", ct)) return;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogSweepFailed(e);
            return;
        }
        var now = time.Now();
        foreach (var siteId in siteIds)
        {
            try
            {
                // A site that is gone (none can be deleted today) keeps its events for the longest period allowed.
                var days = (await sites.GetAsync(siteId, ct))?.AuditRetentionDays ?? SiteRules.MaxAuditRetentionDays;
                var deleted = await store.DeleteOlderThanAsync(siteId, now.AddDays(-days), ct);
                if (deleted > 0)
                {
                    LogDeleted(deleted, siteId, days);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSiteFailed(e, siteId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} audit events of site {SiteId} older than {Days} days")]
    private partial void LogDeleted(long count, string siteId, int days);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit retention could not list the sites; it tries again at the next interval")]
    private partial void LogSweepFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit retention failed for site {SiteId}; it tries again at the next interval")]
    private partial void LogSiteFailed(Exception exception, string siteId);
}
