using ConsentService.Storage;

namespace ConsentService.Infrastructure;

public static class SiteJobs
{
    /// <summary>
    /// Runs <paramref name="work"/> for every site at each <paramref name="interval"/> of the injected
    /// clock (tests drive it with a fake one) until stopped; one site's failure does not hold up the others.
    /// <paramref name="before"/>, when given, may skip a pass (retention does when the clock is suspect).
    /// </summary>
    public static async Task RunEveryAsync(
        TimeSpan interval, TimeProvider time, IConsentStore store, Func<string, CancellationToken, Task> work,
        Action<Exception, string> failed, CancellationToken stoppingToken,
        Func<CancellationToken, Task<bool>>? before = null)
    {
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (before is not null && !await before(stoppingToken)) continue;
            foreach (var siteId in await store.ListSiteIdsAsync(stoppingToken))
            {
                try
                {
                    await work(siteId, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failed(e, siteId);
                }
            }
        }
    }
}
