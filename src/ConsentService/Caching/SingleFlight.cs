using System.Collections.Concurrent;

namespace ConsentService.Caching;

/// <summary>
/// Runs one load per key at a time; callers that miss the same cold key meanwhile wait for that
/// load instead of starting their own (no stampede on the store).
/// </summary>
internal sealed class SingleFlight
{
    private readonly ConcurrentDictionary<string, Task<object?>> _running = new(StringComparer.Ordinal);

    /// <summary>
    /// The shared load runs without the caller's token, so one caller giving up does not fail the
    /// others; each caller still stops waiting when its own token fires.
    /// </summary>
    public async Task<T?> RunAsync<T>(string key, Func<Task<T?>> load, CancellationToken ct) where T : class
    {
        while (true)
        {
            if (_running.TryGetValue(key, out var running))
            {
                return (T?)await running.WaitAsync(ct);
            }
            var mine = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_running.TryAdd(key, mine.Task))
            {
                continue;
            }
            try
            {
                var value = await load();
                mine.SetResult(value);
                return value;
            }
            catch (Exception e)
            {
                mine.SetException(e);
                _ = mine.Task.Exception; // observed here; waiters get it too
                throw;
            }
            finally
            {
                _running.TryRemove(new KeyValuePair<string, Task<object?>>(key, mine.Task));
            }
        }
    }

    /// <summary>
    /// A writer has just stored a newer value: later readers must not join a load that started
    /// before the write and may return what it replaced.
    /// </summary>
    public void Forget(string key) => _running.TryRemove(key, out _);
}
