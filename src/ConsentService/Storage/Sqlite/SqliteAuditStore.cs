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
/// <see cref="SqliteConsentStore"/>. Append-only: there is no UPDATE statement here, and a trigger refuses
/// one from anywhere else. Events are numbered by an AUTOINCREMENT sequence taken at commit, so the
/// order pages follow is the order events were written in, and a number is never reused.
/// </summary>
/// <param name="exportBatchSize">Rows per read while exporting: bounds memory, and no read stays open while the client is slow.</param>
public sealed class SqliteAuditStore(string connectionString, int exportBatchSize = 500) : IAuditStore, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = JsonDefaults.Options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;

    public static SqliteAuditStore ForFile(string path, int exportBatchSize = 500) => new(new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30, // seconds to wait on a lock held by another process
    }.ToString(), exportBatchSize);

    public async Task InitializeAsync(CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            if (_writer is not null) return;
            var writer = new SqliteConnection(connectionString);
            await writer.OpenAsync(ct);
            // FULL: an acknowledged request's event survives power loss, not only a process crash.
            await ExecuteAsync(writer, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", ct);
            await ExecuteAsync(writer, null, Schema, ct);
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
        r.GetString(r.GetOrdinal("role")),
        r.GetString(r.GetOrdinal("action")),
        JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(r.GetOrdinal("target")), Json)!,
        r.GetString(r.GetOrdinal("request_id")),
        r.GetInt32(r.GetOrdinal("outcome")),
        NullableString(r, "client_ip"),
        r.GetString(r.GetOrdinal("method")),
        r.GetString(r.GetOrdinal("path")));

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            site_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            key_id TEXT,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            request_id TEXT NOT NULL,
            outcome INTEGER NOT NULL,
            client_ip TEXT,
            method TEXT NOT NULL,
            path TEXT NOT NULL
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_audit_site_seq ON audit_events (site_id, seq);
        CREATE INDEX IF NOT EXISTS ix_audit_site_at ON audit_events (site_id, at);
        CREATE TRIGGER IF NOT EXISTS audit_events_append_only BEFORE UPDATE ON audit_events
        BEGIN
            SELECT RAISE(ABORT, 'audit events are append-only');
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
