using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using ConsentService.Audit;
using ConsentService.Infrastructure;
using Microsoft.Data.Sqlite;
using static ConsentService.Storage.Sqlite.SqliteCommands;

namespace ConsentService.Storage.Sqlite;

/// <summary>
/// The embedded audit log: its own SQLite file (<c>audit.db</c>), so audit writes never queue behind
/// consent writes, in WAL mode with <c>synchronous=FULL</c>. One writer connection behind a gate, as in
/// <see cref="SqliteConsentStore"/>. Append-only: the one UPDATE here turns an event into a tombstone, and a
/// trigger refuses every other one, from here or from anywhere else (see <see cref="Schema"/>). Events are numbered by an AUTOINCREMENT sequence taken at commit, so the
/// order pages follow is the order events were written in, and a number is never reused.
/// </summary>
/// <param name="exportBatchSize">Rows per read while exporting: bounds memory, and no read stays open while the client is slow.</param>
public sealed class SqliteAuditStore(string connectionString, int exportBatchSize = 500) : IAuditStore, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = JsonDefaults.Options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;

    public static SqliteAuditStore ForFile(string path, int exportBatchSize = 500) => new(FileConnectionString(path), exportBatchSize);

    public async Task InitializeAsync(CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            if (_writer is not null) return;
            var writer = await OpenWriterAsync(connectionString, ct);
            var version = await ScalarAsync<long>(writer, null, "PRAGMA user_version", ct);
            var exists = await ScalarAsync<long>(writer, null, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_events'", ct) > 0;
            if (exists && version != SchemaVersion)
            {
                throw new InvalidOperationException(
                    $"{writer.DataSource} has audit schema version {version}, this build needs {SchemaVersion}: it was made by an earlier development build. Move it away to start afresh.");
            }
            await ExecuteAsync(writer, null, Schema + $"PRAGMA user_version = {SchemaVersion};", ct);
            _writer = writer;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        await using var command = Command(connection, null, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_events'", []);
        return (long)(await command.ExecuteScalarAsync(ct))! > 0;
    }

    public async Task AppendAsync(AuditEvent auditEvent, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var writer = _writer ?? throw new InvalidOperationException("The audit store is not initialised.");
            var e = auditEvent;
            ArgumentNullException.ThrowIfNull(e.Target);
            await ExecuteAsync(writer, null,
                """
                INSERT INTO audit_events (id, site_id, at, key_id, role, action, target, request_id, outcome, client_ip, method, path)
                VALUES ($id, $site, $at, $keyId, $role, $action, $target, $requestId, $outcome, $clientIp, $method, $path)
                """, ct,
                ("$id", e.Id), ("$site", e.SiteId), ("$at", e.At.ToUnixTimeMilliseconds()), ("$keyId", e.KeyId), ("$role", e.Role),
                ("$action", e.Action), ("$target", JsonSerializer.Serialize(e.Target, Json)), ("$requestId", e.RequestId),
                ("$outcome", e.Outcome), ("$clientIp", e.ClientIp), ("$method", e.Method), ("$path", e.Path));
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async Task<AuditPage> QueryAsync(string siteId, AuditFilter filter, AuditPosition? after, int limit, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var rows = await ReadBatchAsync(siteId, filter, after?.Sequence, limit + 1, ct);
        var items = rows.Take(limit).ToList();
        var next = rows.Count > limit ? new AuditPosition(items[^1].Sequence, items[^1].Event.At, items[^1].Event.Id) : null;
        return new AuditPage(items.Select(r => r.Event).ToList(), next);
    }

    public async IAsyncEnumerable<AuditEvent> ExportAsync(string siteId, AuditFilter filter, [EnumeratorCancellation] CancellationToken ct)
    {
        long? after = null;
        while (true)
        {
            var rows = await ReadBatchAsync(siteId, filter, after, exportBatchSize, ct);
            foreach (var row in rows)
            {
                yield return row.Event;
            }
            if (rows.Count < exportBatchSize) yield break;
            after = rows[^1].Sequence;
        }
    }

    public async Task<bool> TombstoneAsync(string siteId, string requestId, AuditDeletion deletion, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var writer = _writer ?? throw new InvalidOperationException("The audit store is not initialised.");
            await ExecuteAsync(writer, null,
                """
                UPDATE audit_events SET key_id = NULL, role = NULL, action = NULL, target = NULL, outcome = NULL, client_ip = NULL,
                    method = NULL, path = NULL, deleted_at = $at, deleted_by_key_id = $keyId, deleted_by_role = $role
                WHERE site_id = $site AND request_id = $requestId AND deleted_at IS NULL
                """, ct,
                ("$at", deletion.At.ToUnixTimeMilliseconds()), ("$keyId", deletion.KeyId), ("$role", deletion.Role),
                ("$site", siteId), ("$requestId", requestId));
            var found = await ScalarAsync<long>(writer, null,
                "SELECT count(*) FROM audit_events WHERE site_id = $site AND request_id = $requestId", ct,
                ("$site", siteId), ("$requestId", requestId)) > 0;
            // The WAL still holds the page as it was: copy the tombstone into the file and truncate the WAL.
            // Readers here are short batches, so a few retries outwait them.
            for (var attempt = 0; found && !await TryScrubAsync(writer, ct) && attempt < 250; attempt++)
            {
                await Task.Delay(20, ct);
            }
            return found;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>The tombstone is committed already: a checkpoint that fails (an I/O error) must not turn its answer into an error.</summary>
    private static async Task<bool> TryScrubAsync(SqliteConnection writer, CancellationToken ct)
    {
        try
        {
            return await TryTruncateWalAsync(writer, ct);
        }
        catch (SqliteException)
        {
            return true; // stop trying; the next tombstone tries again
        }
    }

    public async Task<long> DeleteOlderThanAsync(string siteId, DateTimeOffset cutoff, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var writer = _writer ?? throw new InvalidOperationException("The audit store is not initialised.");
            await using var command = Command(writer, null, "DELETE FROM audit_events WHERE site_id = $site AND at < $cutoff",
                [("$site", siteId), ("$cutoff", cutoff.ToUnixTimeMilliseconds())]);
            return await command.ExecuteNonQueryAsync(ct);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        await using var command = Command(connection, null, "SELECT DISTINCT site_id FROM audit_events ORDER BY site_id", []);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var sites = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            sites.Add(reader.GetString(0));
        }
        return sites;
    }

    private sealed record Row(long Sequence, AuditEvent Event);

    private async Task<List<Row>> ReadBatchAsync(string siteId, AuditFilter filter, long? afterSequence, int count, CancellationToken ct)
    {
        var sql = new StringBuilder("SELECT * FROM audit_events WHERE site_id = $site");
        var parameters = new List<(string, object?)> { ("$site", siteId) };
        void Where(string condition, string name, object value)
        {
            sql.Append(" AND ").Append(condition);
            parameters.Add((name, value));
        }
        if (filter.Action is { } action) Where("action = $action", "$action", action);
        if (filter.KeyId is { } keyId) Where("key_id = $keyId", "$keyId", keyId);
        if (filter.Outcome is { } outcome) Where("outcome = $outcome", "$outcome", outcome);
        if (filter.From is { } from) Where("at >= $from", "$from", from.ToUnixTimeMilliseconds());
        if (filter.To is { } to) Where("at < $to", "$to", to.ToUnixTimeMilliseconds());
        if (afterSequence is { } sequence) Where("seq < $after", "$after", sequence);
        sql.Append(" ORDER BY seq DESC LIMIT $limit");
        parameters.Add(("$limit", count));

        await using var connection = await OpenReadAsync(ct);
        await using var command = Command(connection, null, sql.ToString(), [.. parameters]);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<Row>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new Row(reader.GetInt64(reader.GetOrdinal("seq")), ReadEvent(reader)));
        }
        return rows;
    }

    private static AuditEvent ReadEvent(DbDataReader r) => new(
        r.GetString(r.GetOrdinal("id")),
        r.GetString(r.GetOrdinal("site_id")),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(r.GetOrdinal("at"))),
        NullableString(r, "key_id"),
        NullableString(r, "role"),
        NullableString(r, "action"),
        NullableString(r, "target") is { } target ? JsonSerializer.Deserialize<Dictionary<string, string>>(target, Json) : null,
        r.GetString(r.GetOrdinal("request_id")),
        r.IsDBNull(r.GetOrdinal("outcome")) ? null : r.GetInt32(r.GetOrdinal("outcome")),
        NullableString(r, "client_ip"),
        NullableString(r, "method"),
        NullableString(r, "path"),
        r.IsDBNull(r.GetOrdinal("deleted_at")) ? null : new AuditDeletion(
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(r.GetOrdinal("deleted_at"))),
            NullableString(r, "deleted_by_key_id"),
            r.GetString(r.GetOrdinal("deleted_by_role"))));

    private const int SchemaVersion = 1;

    /// <summary>
    /// The describing columns are nullable only for tombstones (the CHECK). The trigger lets exactly one
    /// UPDATE through: a live event becoming a tombstone, every describing column null, the deletion set,
    /// id, site, time and request id unchanged. A tombstone can change no further, and nothing else can
    /// change at all. (Delete-then-insert would have needed the same guard on DELETE, which retention uses.)
    /// </summary>
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            site_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            key_id TEXT,
            role TEXT,
            action TEXT,
            target TEXT,
            request_id TEXT NOT NULL,
            outcome INTEGER,
            client_ip TEXT,
            method TEXT,
            path TEXT,
            deleted_at INTEGER,
            deleted_by_key_id TEXT,
            deleted_by_role TEXT,
            CHECK (deleted_at IS NOT NULL OR (role IS NOT NULL AND action IS NOT NULL AND target IS NOT NULL
                AND outcome IS NOT NULL AND method IS NOT NULL AND path IS NOT NULL))
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_audit_site_seq ON audit_events (site_id, seq);
        CREATE INDEX IF NOT EXISTS ix_audit_site_at ON audit_events (site_id, at);
        CREATE INDEX IF NOT EXISTS ix_audit_site_request ON audit_events (site_id, request_id);
        CREATE TRIGGER IF NOT EXISTS audit_events_append_only BEFORE UPDATE ON audit_events
        WHEN NOT (old.deleted_at IS NULL AND new.deleted_at IS NOT NULL AND new.deleted_by_role IS NOT NULL
            AND new.seq IS old.seq AND new.id IS old.id AND new.site_id IS old.site_id AND new.at IS old.at
            AND new.request_id IS old.request_id
            AND new.key_id IS NULL AND new.role IS NULL AND new.action IS NULL AND new.target IS NULL AND new.outcome IS NULL
            AND new.client_ip IS NULL AND new.method IS NULL AND new.path IS NULL)
        BEGIN
            SELECT RAISE(ABORT, 'audit events are append-only: the one change allowed turns an event into a tombstone');
        END;
        """;

    private Task<SqliteConnection> OpenReadAsync(CancellationToken ct) => OpenAsync(connectionString, ct);

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }
        _writeGate.Dispose();
    }
}
