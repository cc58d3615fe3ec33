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
            while (!await TryAttemptAsync())
            {
                await Task.Delay(interval, stopping);
            }
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            return; // shutting down: the delay cancelled, or the attempt failed on what shutdown disposed
        }
        Volatile.Write(ref _running, 0);
        if (needed())
        {
            Start();
        }
    }

    /// <summary>
    /// An attempt that throws has failed, and is tried again: only <paramref name="stopping"/> ends the loop. A
    /// cancellation is no sign of shutdown by itself (StackExchange.Redis cancels a command it could not send, see
    /// <see cref="RedisReadCache.IsRedisFailure"/>); taken as one, it left the work undone and this retry stuck as
    /// running, so that no <see cref="Start"/> ran it again.
    /// </summary>
    private async Task<bool> TryAttemptAsync()
    {
        try
        {
            return await attempt();
        }
        catch (Exception) when (!stopping.IsCancellationRequested)
        {
            return false;
        }
    }
}
