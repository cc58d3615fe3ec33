namespace ConsentService.Caching;

/// <summary>
/// Work that must happen without a request coming for it: <paramref name="attempt"/> runs in the background,
/// every <paramref name="interval"/> until it succeeds, one run at a time. <see cref="Start"/> during a run does
/// nothing; a run that ends while <paramref name="needed"/> holds again (it became due as the run ended) starts
/// another, so no start is lost.
/// </summary>
internal sealed class BackgroundRetry(Func<Task<bool>> attempt, Func<bool> needed, TimeSpan interval, CancellationToken stopping)
{
    private int _running;

    public void Start()
    {
        if (Interlocked.Exchange(ref _running, 1) == 0)
        {
            _ = Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        try
        {
            while (!await attempt())
            {
                await Task.Delay(interval, stopping);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return; // shutting down
        }
        Volatile.Write(ref _running, 0);
        if (needed())
        {
            Start();
        }
    }
}
