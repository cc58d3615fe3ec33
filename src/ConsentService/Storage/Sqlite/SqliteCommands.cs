using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace ConsentService.Storage.Sqlite;

/// <summary>The parameterised-command plumbing both SQLite stores share.</summary>
internal static class SqliteCommands
{
    /// <summary>A store's file: created when missing, pooled connections, and 30 s of waiting on a lock another process holds.</summary>
    public static string FileConnectionString(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30, // seconds to wait on a lock held by another process
    }.ToString();

    public static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken ct)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(ct);
        return connection;
    }

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? tx, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        return Bind(command, tx, parameters);
    }

    private static SqliteCommand Bind(SqliteCommand command, SqliteTransaction? tx, (string Name, object? Value)[] parameters)
    {
        command.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    public static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        var command = Lease(connection, tx, sql, parameters, out var shared);
        try
        {
            await command.ExecuteNonQueryAsync(ct);
        }
        finally
        {
            if (!shared) await command.DisposeAsync();
        }
    }

    public static async Task<T?> ScalarAsync<T>(SqliteConnection connection, SqliteTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        var command = Lease(connection, tx, sql, parameters, out var shared);
        try
        {
            var value = await command.ExecuteScalarAsync(ct);
            return value is null or DBNull ? default : (T)value;
        }
        finally
        {
            if (!shared) await command.DisposeAsync();
        }
    }

    public static async Task<List<T>> QueryAsync<T>(SqliteConnection connection, SqliteTransaction? tx, string sql, Func<DbDataReader, T> read, CancellationToken ct, params (string, object?)[] parameters)
    {
        var command = Lease(connection, tx, sql, parameters, out var shared);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(ct);
            var rows = new List<T>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add(read(reader));
            }
            return rows;
        }
        finally
        {
            if (!shared) await command.DisposeAsync();
        }
    }

    /// <summary>
    /// Statements run in a transaction of a connection given to <see cref="KeepPrepared"/> (a store's one
    /// writer, whose writes all run one after another) are prepared once and reused: SQLite parses each
    /// statement's SQL once instead of on every write, which the single writer would otherwise pay for
    /// every statement of every write.
    /// </summary>
    private static readonly ConditionalWeakTable<SqliteConnection, Dictionary<string, SqliteCommand>> Prepared = [];

    public static void KeepPrepared(SqliteConnection connection) => Prepared.AddOrUpdate(connection, new(StringComparer.Ordinal));

    /// <summary>Disposes the statements kept for <paramref name="connection"/>, before it closes.</summary>
    public static void ReleasePrepared(SqliteConnection connection)
    {
        if (!Prepared.TryGetValue(connection, out var commands)) return;
        Prepared.Remove(connection);
        foreach (var command in commands.Values) command.Dispose();
    }

    private static SqliteCommand Lease(SqliteConnection connection, SqliteTransaction? tx, string sql, (string Name, object? Value)[] parameters, out bool shared)
    {
        if (tx is null || !Prepared.TryGetValue(connection, out var commands))
        {
            shared = false;
            return Command(connection, tx, sql, parameters);
        }
        shared = true;
        if (!commands.TryGetValue(sql, out var command))
        {
            commands[sql] = command = connection.CreateCommand();
            command.CommandText = sql;
        }
        command.Parameters.Clear();
        return Bind(command, tx, parameters);
    }

    /// <summary>Zero deleted and overwritten content instead of leaving it in free space; applies to the connection it runs on.</summary>
    public const string SecureDelete = "PRAGMA secure_delete=ON;";

    /// <summary>
    /// Opens a store's one writing connection: WAL with <c>synchronous=FULL</c> (an acknowledged write survives
    /// power loss, not only a process crash) and <see cref="SecureDelete"/> (erased and overwritten content is
    /// zeroed in its page; per connection, and only this one writes).
    /// </summary>
    public static async Task<SqliteConnection> OpenWriterAsync(string connectionString, CancellationToken ct)
    {
        var writer = new SqliteConnection(connectionString);
        await writer.OpenAsync(ct);
        await ExecuteAsync(writer, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;" + SecureDelete, ct);
        return writer;
    }

    /// <summary>
    /// Copies every WAL frame into the database file and truncates the WAL to zero bytes, so the old page
    /// images it held are gone from disk. False when a reader still reads an older snapshot (or another
    /// connection writes): the WAL is then left as it was, to be tried again.
    /// </summary>
    public static async Task<bool> TryTruncateWalAsync(SqliteConnection connection, CancellationToken ct)
    {
        await using var command = Command(connection, null, "PRAGMA wal_checkpoint(TRUNCATE)", []);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) && reader.GetInt64(0) == 0;
    }

    public static string? NullableString(DbDataReader r, string column)
    {
        var ordinal = r.GetOrdinal(column);
        return r.IsDBNull(ordinal) ? null : r.GetString(ordinal);
    }
}
