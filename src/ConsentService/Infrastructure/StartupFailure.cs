using ConsentService.Storage;
using ConsentService.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ConsentService.Infrastructure;

/// <summary>
/// A reason the service cannot start that its operator can fix. The message is one line that names the
/// file or setting and the fix; <c>Program</c> prints it and exits with 1 instead of a stack trace.
/// </summary>
public sealed class StartupFailureException(string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>
    /// The line to print for an exception that stopped the start, or null for one we have no advice for
    /// (it then ends the process as any unhandled exception does, with its stack trace).
    /// </summary>
    public static string? Explain(Exception exception, string? dataDirectory)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case StartupFailureException failure:
                    return failure.Message;
                case Ledger.SigningKeyException key:
                    return key.Message;
                case OptionsValidationException invalid:
                    return invalid.Message;
                case SqliteException sqlite:
                    return ExplainSqlite(sqlite, dataDirectory);
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    return Explain(aggregate.InnerExceptions[0], dataDirectory);
            }
        }
        return null;
    }

    /// <summary>SQLite names no file in its errors; the data folder and the fix for the error's kind do.</summary>
    private static string ExplainSqlite(SqliteException e, string? folder)
    {
        var where = folder is null ? "the data folder" : $"the data folder {folder}";
        var fix = e.SqliteErrorCode switch
        {
            13 => $"The disk of {where} is full: free space on it.", // SQLITE_FULL
            11 or 26 => $"A database file in {where} is damaged: restore it from a backup, or move it away to start with an empty one.", // CORRUPT, NOTADB
            5 or 6 => $"Another process holds a lock on a database in {where}: stop it, or run one instance per data folder.", // BUSY, LOCKED
            _ => $"Check that {where} exists, that this process can write it and every file in it, and that its disk works.",
        };
        return $"SQLite error {e.SqliteErrorCode} ({SqliteWriteHealth.Reason(e)}) in {where}. {fix}";
    }
}

public static class StartupFailures
{
    /// <summary>
    /// <c>app.Run()</c>, except that a start that fails for a reason the operator can fix ends the process
    /// with exit code 1 and one line on stderr naming the file and the fix, not an unhandled exception's
    /// stack trace (the host has logged the details before).
    /// </summary>
    public static int RunOrExplainStartupFailure(this WebApplication app)
    {
        // Read now: once the start has failed, the container is disposed.
        string? dataDirectory;
        try
        {
            dataDirectory = StorageSetup.DataDirectory(app.Services);
        }
        catch (OptionsValidationException)
        {
            dataDirectory = null;
        }
        try
        {
            app.Run();
            return 0;
        }
        catch (Exception e) when (StartupFailureException.Explain(e, dataDirectory) is { } reason)
        {
            Console.Error.WriteLine($"ConsentService cannot start: {reason}");
            // Called by a test host (WebApplicationFactory runs this Main): it needs the exception, not an exit code.
            if (System.Reflection.Assembly.GetEntryAssembly() != typeof(StartupFailures).Assembly) throw;
            return 1;
        }
    }
}
