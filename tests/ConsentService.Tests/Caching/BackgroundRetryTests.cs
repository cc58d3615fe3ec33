using ConsentService.Caching;

namespace ConsentService.Tests.Caching;

/// <summary>
/// The background work of the caches (listening again after a reconnect, deleting in Redis what went stale while it
/// was unreachable) must not end on the way StackExchange.Redis fails a command it never sent: a
/// <see cref="TaskCanceledException"/> (seen from <c>ScriptEvaluateAsync</c> while the service started under load).
/// </summary>
public sealed class BackgroundRetryTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    [Fact]
    public async Task An_attempt_that_throws_a_cancellation_is_tried_again_and_the_retry_can_start_once_more()
    {
        using var stopping = new CancellationTokenSource();
        var attempts = 0;
        var succeeded = new TaskCompletionSource();
        var retry = new BackgroundRetry(() =>
        {
            // The first and third attempts fail as a command StackExchange.Redis could not send does.
            if (Interlocked.Increment(ref attempts) is 1 or 3) throw new TaskCanceledException();
            succeeded.TrySetResult();
            return Task.FromResult(true);
        }, needed: () => false, Interval, stopping.Token);

        retry.Start();
        await succeeded.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, Volatile.Read(ref attempts));

        // Done, and not stuck as running: a later start runs the work again, through another failure.
        succeeded = new TaskCompletionSource();
        await Task.Delay(Interval * 5); // the first run has returned after its success
        retry.Start();
        await succeeded.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(4, Volatile.Read(ref attempts));
    }

    [Fact]
    public async Task Stopping_ends_the_retries()
    {
        using var stopping = new CancellationTokenSource();
        var attempts = 0;
        var retry = new BackgroundRetry(() =>
        {
            Interlocked.Increment(ref attempts);
            return Task.FromResult(false);
        }, needed: () => true, Interval, stopping.Token);

        retry.Start();
        while (Volatile.Read(ref attempts) < 3) await Task.Delay(Interval);
        await stopping.CancelAsync();
        await Task.Delay(Interval * 5); // an attempt under way when it stopped still ends
        var atStop = Volatile.Read(ref attempts);
        await Task.Delay(Interval * 20);
        Assert.Equal(atStop, Volatile.Read(ref attempts));
    }

    [Fact]
    public void A_command_StackExchange_Redis_never_sent_is_a_Redis_failure_to_the_caches()
    {
        // What the client throws for it (PhysicalBridge: no connection under BacklogPolicy.FailFast, or no turn to write
        // within the timeout): answered from the store, never a 500 after the store has written.
        Assert.True(RedisReadCache.IsRedisFailure(new TaskCanceledException()));
        Assert.True(RedisReadCache.IsRedisFailure(new StackExchange.Redis.RedisConnectionException(StackExchange.Redis.ConnectionFailureType.SocketClosed, "closed")));
        Assert.True(RedisReadCache.IsRedisFailure(new StackExchange.Redis.RedisTimeoutException("timeout", StackExchange.Redis.CommandStatus.Sent)));
        Assert.False(RedisReadCache.IsRedisFailure(new InvalidOperationException("a bug of ours")));
    }
}
