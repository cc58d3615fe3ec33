using System.Data.Common;
using ConsentService.PrivacyConsole;
using Microsoft.Data.Sqlite;
using static ConsentService.Storage.Sqlite.SqliteCommands;

namespace ConsentService.Storage.Sqlite;

/// <summary>
/// Console sessions in their own SQLite file (<c>sessions.db</c>): a sign-in never queues behind consent
/// writes, and the ledger's schema stays as it is. <c>synchronous=FULL</c> as elsewhere: a sign-out that was
/// answered must not come back after a power loss. One writer connection behind a gate.
/// </summary>
public sealed class SqliteSessionStore(string connectionString) : ISessionStore, IAsyncDisposable
{
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;

    public static SqliteSessionStore ForFile(string path) => new(FileConnectionString(path));

    private const int SchemaVersion = 1;

    /// <summary>
    /// <c>idle_expires_at</c> never passes <c>expires_at</c> (the absolute end): it alone decides whether a
    /// session is alive, and the index on it serves the sweep of expired ones.
    /// </summary>
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS console_sessions (
            id_hash TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            site_id TEXT,
            key_id TEXT,
            key_hash TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            idle_expires_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            CHECK (idle_expires_at <= expires_at)
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_console_sessions_idle ON console_sessions (idle_expires_at);
        """;

    public async Task InitializeAsync(CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            if (_writer is not null) return;
            var writer = await OpenWriterAsync(connectionString, ct);
            var version = await ScalarAsync<long>(writer, null, "PRAGMA user_version", ct);
            var exists = await ScalarAsync<long>(writer, null, "SELECT count(*) FROM sqlite_master WHERE name = 'console_sessions'", ct) > 0;
            if (exists && version != SchemaVersion)
            {
                // Sessions are disposable: a file from another build is started afresh (everyone signs in again).
                await ExecuteAsync(writer, null, "DROP TABLE console_sessions;", ct);
            }
            await ExecuteAsync(writer, null, Schema + $"PRAGMA user_version = {SchemaVersion};", ct);
            _writer = writer;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public Task CreateAsync(ConsoleSession session, CancellationToken ct) => WriteAsync(
        """
        INSERT INTO console_sessions (id_hash, role, site_id, key_id, key_hash, created_at, idle_expires_at, expires_at)
        VALUES ($id, $role, $site, $keyId, $keyHash, $created, $idle, $expires)
        """, ct,
        ("$id", session.IdHash), ("$role", session.Role), ("$site", session.SiteId), ("$keyId", session.KeyId), ("$keyHash", session.KeyHash),
        ("$created", Millis(session.CreatedAt)), ("$idle", Millis(session.IdleExpiresAt)), ("$expires", Millis(session.ExpiresAt)));

    public async Task<ConsoleSession?> FindAsync(string idHash, CancellationToken ct)
    {
        await using var connection = await OpenAsync(connectionString, ct);
        var found = await QueryAsync(connection, null, "SELECT * FROM console_sessions WHERE id_hash = $id", Read, ct, ("$id", idHash));
        return found.Count == 0 ? null : found[0];
    }

    public async Task<bool> ExtendAsync(string idHash, DateTimeOffset idleExpiresAt, CancellationToken ct) =>
        await WriteAsync("UPDATE console_sessions SET idle_expires_at = min(expires_at, max(idle_expires_at, $idle)) WHERE id_hash = $id", ct,
            ("$idle", Millis(idleExpiresAt)), ("$id", idHash)) > 0;

    public async Task<bool> DeleteAsync(string idHash, CancellationToken ct) =>
        await WriteAsync("DELETE FROM console_sessions WHERE id_hash = $id", ct, ("$id", idHash)) > 0;

    public Task<long> DeleteExpiredAsync(DateTimeOffset now, CancellationToken ct) =>
        WriteAsync("DELETE FROM console_sessions WHERE idle_expires_at <= $now", ct, ("$now", Millis(now)));

    private async Task<long> WriteAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var writer = _writer ?? throw new InvalidOperationException("The session store is not initialised.");
            await using var command = Command(writer, null, sql, parameters);
            return await command.ExecuteNonQueryAsync(ct);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private static ConsoleSession Read(DbDataReader r) => new(
        r.GetString(r.GetOrdinal("id_hash")),
        r.GetString(r.GetOrdinal("role")),
        NullableString(r, "site_id"),
        NullableString(r, "key_id"),
        r.GetString(r.GetOrdinal("key_hash")),
        FromMillis(r.GetInt64(r.GetOrdinal("created_at"))),
        FromMillis(r.GetInt64(r.GetOrdinal("idle_expires_at"))),
        FromMillis(r.GetInt64(r.GetOrdinal("expires_at"))));

    private static long Millis(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMillis(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis);

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null) await _writer.DisposeAsync();
        _writeGate.Dispose();
    }
}
