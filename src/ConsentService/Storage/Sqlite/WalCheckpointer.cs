using Microsoft.Data.Sqlite;
using static ConsentService.Storage.Sqlite.SqliteCommands;

namespace ConsentService.Storage.Sqlite;

/// <summary>
/// Copies committed WAL pages into the database file on a connection of its own, beside a store's single
/// writer instead of on it. SQLite's automatic checkpoint runs on the connection that commits: every
/// 1000 pages the writer stopped to copy them and sync the database file (commits of up to 40 ms, measured),
/// and every queued write waited. Moved here, writes went 1.14× faster (bench/ab-writes, bench/RESULTS.md).
/// The writer's automatic checkpoint is off (<see cref="WriterPragmas"/>). Copying is not enough to keep
/// the WAL bounded: the log starts again from its beginning only after a checkpoint that left nothing
/// behind, and under steady writes this connection never catches up with the last commit. So once the
/// log holds <see cref="RestartFrames"/> pages, the writer runs one checkpoint itself, between two batches
/// (<see cref="AfterCommitAsync"/>): by then almost everything is copied, it syncs the rest, and the
/// next commit starts the log again.
/// PASSIVE everywhere: a checkpoint never waits for a reader or the writer, and gives up when another runs.
/// </summary>
internal sealed class WalCheckpointer(string connectionString) : IAsyncDisposable
{
    /// <summary>The writer's pragmas: no automatic checkpoint on the writer.</summary>
    public const string WriterPragmas = "PRAGMA wal_autocheckpoint=0;";

    /// <summary>A log this long (4 KiB pages: 64 MiB) is started again by the writer.</summary>
    internal long RestartFrames { get; init; } = 16_384;

    /// <summary>
    /// Writes committed between two checkpoints: about the 1000 pages after which SQLite's automatic checkpoint
    /// would run (an append writes several pages), so that a store written a little is checkpointed as seldom as before.
    /// </summary>
    private const int WritesPerCheckpoint = 100;

    private Task _running = Task.CompletedTask;
    private int _writes, _busy, _restart;

    /// <summary>
    /// Called by the writer after each commit of <paramref name="writes"/> writes, once they are answered, still
    /// holding the write gate: restarts a long log on <paramref name="writer"/> when a checkpoint asked for it, and
    /// starts a checkpoint beside it when enough writes were committed and none runs.
    /// </summary>
    public async Task AfterCommitAsync(SqliteConnection writer, int writes)
    {
        if (Interlocked.Exchange(ref _restart, 0) == 1)
        {
            try
            {
                await ExecuteAsync(writer, null, "PRAGMA wal_checkpoint(PASSIVE)", CancellationToken.None);
            }
            catch (SqliteException)
            {
                // an I/O error: the writer goes on, and the next checkpoint that finds the log long asks again
            }
        }
        if ((_writes += writes) < WritesPerCheckpoint || Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return;
        _writes = 0;
        _running = Task.Run(CheckpointAsync, CancellationToken.None);
    }

    private async Task CheckpointAsync()
    {
        try
        {
            await using var connection = await OpenAsync(connectionString, CancellationToken.None);
            await using var command = Command(connection, null, "PRAGMA wal_checkpoint(PASSIVE)", []);
            await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
            // (busy, pages in the log, pages copied)
            if (await reader.ReadAsync(CancellationToken.None) && reader.GetInt64(1) >= RestartFrames) Volatile.Write(ref _restart, 1);
        }
        catch (SqliteException)
        {
            // Busy or failing: nothing is lost, a later checkpoint copies what this one did not.
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    public async ValueTask DisposeAsync() => await _running;
}
