using ConsentService.Storage;

namespace ConsentService.Infrastructure;

public static class SiteJobs
{
    /// <summary>
    /// Runs <paramref name="work"/> for every site at each <paramref name="interval"/> of the injected
    /// clock (tests drive it with a fake one) until stopped; one site's failure does not hold up the others.
    /// </summary>
    public static async Task RunEveryAsync(
        TimeSpan interval, TimeProvider time, IConsentStore store, Func<string, CancellationToken, Task> work,
        Action<Exception, string> failed, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
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
