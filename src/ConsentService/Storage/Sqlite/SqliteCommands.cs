using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ConsentService.Storage.Sqlite;

/// <summary>The parameterised-command plumbing both SQLite stores share.</summary>
internal static class SqliteCommands
{
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
        command.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    public static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, tx, sql, parameters);
        await command.ExecuteNonQueryAsync(ct);
    }

    public static async Task<T?> ScalarAsync<T>(SqliteConnection connection, SqliteTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, tx, sql, parameters);
        var value = await command.ExecuteScalarAsync(ct);
        return value is null or DBNull ? default : (T)value;
    }

    public static async Task<List<T>> QueryAsync<T>(SqliteConnection connection, SqliteTransaction? tx, string sql, Func<DbDataReader, T> read, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, tx, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<T>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    /// <summary>Zero deleted and overwritten content instead of leaving it in free space; applies to the connection it runs on.</summary>
    public const string SecureDelete = "PRAGMA secure_delete=ON;";

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
