using Microsoft.Data.Sqlite;

namespace ConsentService.Tests.Infrastructure;

/// <summary>
/// Writes that commit in one batch, whatever the machine's speed: another connection holds SQLite's write lock
/// (as a second process on the file would), the writes are sent meanwhile and queue behind the service's blocked
/// commit, then the lock is let go and the queued writes commit together.
/// </summary>
public static class WriteTogether
{
    public static async Task<T[]> RunAsync<T>(this ConsentApiFactory factory, int count, Func<int, Task<T>> write)
    {
        await using var holder = new SqliteConnection($"Data Source={factory.DatabasePath};Pooling=False;Default Timeout=30");
        await holder.OpenAsync();
        await using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }
        var writes = Enumerable.Range(0, count).Select(i => Task.Run(() => write(i))).ToArray();
        // The first write takes the service's writer into its (blocked) commit; the others queue behind it.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await using (var rollback = holder.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }
        return await Task.WhenAll(writes);
    }
}
