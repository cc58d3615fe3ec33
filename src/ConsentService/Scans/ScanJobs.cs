using System.Security.Cryptography;
using System.Threading.Channels;
using ConsentService.Policies;
using ConsentService.Scans.Catalogue;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

namespace ConsentService.Scans;

/// <summary>
/// Runs scans one at a time in the background (a browser is heavy; one per instance). A scan is stored
/// before it is queued, saved after every page (its progress), and marked interrupted if the instance
/// stops before it ends, or at the next start-up if the instance died (nothing else would finish it).
/// </summary>
public sealed partial class ScanJobs(
    IConsentStore store, PolicyCatalog policies, CookieCatalogue catalogue, IOptions<ScanOptions> options,
    TimeProvider time, ILogger<ScanJobs> logger) : BackgroundService
{
    private readonly Channel<(string SiteId, string ScanId)> _queue = Channel.CreateUnbounded<(string, string)>();
    private readonly SemaphoreSlim _transitions = new(1, 1);
    private (string SiteId, string ScanId, CancellationTokenSource Cancel)? _running;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<Scan> StartAsync(string siteId, IReadOnlyList<string> urls, string? startUrl, int pageLimit, CancellationToken ct)
    {
        await _ready.Task.WaitAsync(ct); // the start-up sweep first, so it never marks this new scan interrupted
        var scan = new Scan("scn_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), siteId, ScanStatus.Queued,
            time.GetUtcNow(), urls, startUrl, pageLimit, PagesDone: 0);
        await store.SaveScanAsync(scan, ct);
        await _queue.Writer.WriteAsync((siteId, scan.Id), ct);
        return scan;
    }

    /// <summary>Cancels a queued or running scan; null when there is no such scan. A finished scan is returned as it is.</summary>
    public async Task<Scan?> CancelAsync(string siteId, string scanId, CancellationToken ct)
    {
        await _transitions.WaitAsync(ct);
        try
        {
            var scan = await store.GetScanAsync(siteId, scanId, ct);
            if (scan is null || scan.IsFinished) return scan;
            if (_running is { } r && r.ScanId == scanId && r.SiteId == siteId)
            {
                await r.Cancel.CancelAsync(); // the runner saves it as cancelled, with the pages it has done
                return scan;
            }
            var cancelled = scan with { Status = ScanStatus.Cancelled, FinishedAt = time.GetUtcNow() };
            await store.SaveScanAsync(cancelled, ct);
            return cancelled;
        }
        finally
        {
            _transitions.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            foreach (var orphan in await store.ListUnfinishedScansAsync(stoppingToken))
            {
                await store.SaveScanAsync(Interrupted(orphan, "The service stopped before the scan ended."), stoppingToken);
            }
        }
        finally
        {
            _ready.TrySetResult();
        }
        await foreach (var (siteId, scanId) in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await RunAsync(siteId, scanId, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogScanFailed(logger, e, scanId);
            }
        }
    }

    private Scan Interrupted(Scan scan, string why) =>
        scan with { Status = ScanStatus.Interrupted, FinishedAt = time.GetUtcNow(), CurrentUrl = null, Error = why };

    private async Task RunAsync(string siteId, string scanId, CancellationToken stoppingToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        Scan scan;
        await _transitions.WaitAsync(stoppingToken);
        try
        {
            if (await store.GetScanAsync(siteId, scanId, stoppingToken) is not { Status: ScanStatus.Queued } queued) return; // cancelled meanwhile
            scan = queued with { Status = ScanStatus.Running, StartedAt = time.GetUtcNow() };
            await store.SaveScanAsync(scan, stoppingToken);
            _running = (siteId, scanId, cancel);
        }
        finally
        {
            _transitions.Release();
        }

        var o = options.Value;
        // Wall-clock limit: the browser works in real time whatever clock the service runs on.
        using var limit = new CancellationTokenSource(o.MaxDuration, TimeProvider.System);
        using var work = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, limit.Token);
        var pages = new List<(string Url, IReadOnlyList<RawVisit> Visits)>();
        var policy = await policies.ListAsync(siteId, stoppingToken) is { Count: > 0 } versions ? versions[^1] : null;
        string? note = null;
        try
        {
            var guard = new AddressGuard(options);
            await using var probe = await BrowserProbe.LaunchAsync(o, guard, work.Token);
            await PageWalk.RunAsync(probe, scan.Urls, scan.StartUrl, scan.PageLimit, pages,
                async url =>
                {
                    scan = scan with { CurrentUrl = url, PagesDone = pages.Count };
                    await store.SaveScanAsync(scan, stoppingToken);
                }, work.Token);
            scan = scan with { PagesDone = pages.Count };
            scan = scan with { Status = ScanStatus.Completed };
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            scan = Interrupted(scan, "The service stopped before the scan ended.");
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            scan = scan with { Status = ScanStatus.Completed };
            note = $"Stopped at the time limit ({o.MaxDuration}) after {pages.Count} page(s).";
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            scan = scan with { Status = ScanStatus.Cancelled };
        }
#pragma warning disable CA1031 // whatever broke, the scan must end as failed
        catch (Exception e)
#pragma warning restore CA1031
        {
            // Whatever broke, the scan ends as failed: one left "running" would never end.
            LogScanFailed(logger, e, scanId);
            scan = scan with { Status = ScanStatus.Failed, Error = e is ScanFailedException ? e.Message : "The browser failed: " + e.Message };
        }
        finally
        {
            _running = null;
        }

        var report = pages.Count == 0 ? null : new ScanAnalyzer(catalogue).Analyze(siteId, policy, pages, time.GetUtcNow());
        // Saved whatever happened, even while stopping: a scan left "running" would never end.
        await store.SaveScanAsync(scan with { FinishedAt = time.GetUtcNow(), CurrentUrl = null, Error = scan.Error ?? note, Report = report },
            CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Scan {ScanId} failed")]
    private static partial void LogScanFailed(ILogger logger, Exception exception, string scanId);
}
