using Microsoft.Data.Sqlite;

namespace ConsentService.Storage.Sqlite;

/// <summary>
/// Whether the disk under one SQLite file takes writes, from the outcome of the latest write attempt:
/// a write that failed because of the storage (not its content) makes the file unwritable until one
/// commits again. Readiness reads it; without it a full disk left the service "Healthy" while every
/// write answered 500.
/// </summary>
internal sealed class SqliteWriteHealth(string path)
{
    private volatile string? _failure;

    /// <summary>Why the latest write attempt failed, or null when it committed.</summary>
    public string? Failure => _failure;

    public void Committed() => _failure = null;

    /// <summary>Notes a failed write; returns what to give its caller: a storage fault as <see cref="StorageUnavailableException"/>.</summary>
    public Exception Failed(Exception e)
    {
        if (e is not SqliteException sqlite || !IsStorageFault(sqlite)) return e;
        var reason = $"writes to {path} fail: SQLite error {sqlite.SqliteErrorCode} ({Reason(sqlite)})";
        _failure = reason;
        return new StorageUnavailableException(reason, e);
    }

    /// <summary>"database or disk is full" out of "SQLite Error 13: 'database or disk is full'.".</summary>
    public static string Reason(SqliteException e)
    {
        var message = e.Message;
        var start = message.IndexOf('\'', StringComparison.Ordinal);
        var end = message.LastIndexOf('\'');
        return start >= 0 && end > start ? message[(start + 1)..end] : message.TrimEnd('.');
    }

    /// <summary>The disk or file, not the statement: I/O error, disk full, cannot open, read-only, locked past the timeout.</summary>
    public static bool IsStorageFault(SqliteException e) => e.SqliteErrorCode is
        10 or 13 or 14 or 8 or 5 or 6; // SQLITE_IOERR, FULL, CANTOPEN, READONLY, BUSY, LOCKED
}
