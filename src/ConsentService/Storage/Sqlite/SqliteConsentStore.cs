using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using Microsoft.Data.Sqlite;
using static ConsentService.Storage.Sqlite.SqliteCommands;

namespace ConsentService.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. Writes go through one connection behind a gate
/// (SQLite has one writer anyway) inside <c>BEGIN IMMEDIATE</c>, so a second process on the same
/// file is serialised too, and writes that arrive together are committed together (see WriteAsync);
/// reads use pooled connections and never block on writes.
/// </summary>
public sealed class SqliteConsentStore(string connectionString) : IConsentStore, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = JsonDefaults.Options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;

    public static SqliteConsentStore ForFile(string path) => new(new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30, // seconds to wait on a lock held by another process
    }.ToString());

    public async Task InitializeAsync(CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            if (_writer is not null) return;
            var writer = new SqliteConnection(connectionString);
            await writer.OpenAsync(ct);
            // FULL: an acknowledged record survives power loss, not only a process crash.
            await ExecuteAsync(writer, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", ct);
            var version = await ScalarAsync<long>(writer, null, "PRAGMA user_version", ct);
            var empty = await ScalarAsync<long>(writer, null, "SELECT count(*) FROM sqlite_master", ct) == 0;
            if (!empty && version != SchemaVersion)
            {
                throw new InvalidOperationException(
                    $"{writer.DataSource} has schema version {version}, this build needs {SchemaVersion}: it was made by an earlier development build. Move it away to start afresh.");
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
        return await ScalarAsync<long>(connection, null, "SELECT count(*) FROM sqlite_master", ct) > 0;
    }

    // ---- sites -------------------------------------------------------------------------------

    public Task CreateSiteAsync(Site site, CancellationToken ct) =>
        WriteAsync((connection, tx) => ExecuteAsync(connection, tx,
            "INSERT INTO sites (id, document) VALUES ($id, $document)", ct,
            ("$id", site.Id), ("$document", JsonSerializer.Serialize(site, Json))), ct);

    public async Task<Site?> GetSiteAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var document = await ScalarAsync<string>(connection, null, "SELECT document FROM sites WHERE id = $id", ct, ("$id", siteId));
        return document is null ? null : JsonSerializer.Deserialize<Site>(document, Json);
    }

    public Task UpdateSiteAsync(Site site, CancellationToken ct) =>
        WriteAsync((connection, tx) => ExecuteAsync(connection, tx,
            "UPDATE sites SET document = $document WHERE id = $id", ct,
            ("$id", site.Id), ("$document", JsonSerializer.Serialize(site, Json))), ct);

    // ---- API keys ----------------------------------------------------------------------------

    public Task AddApiKeyAsync(ApiKey key, CancellationToken ct) =>
        WriteAsync((connection, tx) => ExecuteAsync(connection, tx,
            """
            INSERT INTO api_keys (id, site_id, role, label, hint, key_hash, created_at, revoked_at)
            VALUES ($id, $site, $role, $label, $hint, $hash, $created, NULL)
            """, ct,
            ("$id", key.Id), ("$site", key.SiteId), ("$role", JsonDefaults.Name(key.Role)), ("$label", key.Label),
            ("$hint", key.Hint), ("$hash", key.KeyHash), ("$created", Millis(key.CreatedAt))), ct);

    public async Task<IReadOnlyList<ApiKey>> ListApiKeysAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT * FROM api_keys WHERE site_id = $site ORDER BY created_at, id", ReadApiKey, ct, ("$site", siteId));
    }

    public async Task<ApiKey?> FindApiKeyByHashAsync(string keyHash, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var keys = await QueryAsync(connection, null, "SELECT * FROM api_keys WHERE key_hash = $hash", ReadApiKey, ct, ("$hash", keyHash));
        return keys.Count == 0 ? null : keys[0];
    }

    public async Task<bool> RevokeApiKeyAsync(string siteId, string keyId, DateTimeOffset revokedAt, CancellationToken ct)
    {
        var found = false;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx,
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $at) WHERE site_id = $site AND id = $id", ct,
                ("$at", Millis(revokedAt)), ("$site", siteId), ("$id", keyId));
            found = await ScalarAsync<long>(connection, tx, "SELECT changes()", ct) > 0;
        }, ct);
        return found;
    }

    private static ApiKey ReadApiKey(DbDataReader r) => new(
        r.GetString(r.GetOrdinal("id")),
        r.GetString(r.GetOrdinal("site_id")),
        JsonDefaults.Parse<SiteRole>(r.GetString(r.GetOrdinal("role"))),
        NullableString(r, "label"),
        r.GetString(r.GetOrdinal("hint")),
        r.GetString(r.GetOrdinal("key_hash")),
        FromMillis(r.GetInt64(r.GetOrdinal("created_at"))),
        r.IsDBNull(r.GetOrdinal("revoked_at")) ? null : FromMillis(r.GetInt64(r.GetOrdinal("revoked_at"))));

    // ---- policies ----------------------------------------------------------------------------

    public async Task<Policy> PublishPolicyAsync(string siteId, Func<Policy?, Policy> build, CancellationToken ct)
    {
        Policy? published = null;
        await WriteAsync(async (connection, tx) =>
        {
            var latest = await QueryAsync(connection, tx,
                "SELECT * FROM policies WHERE site_id = $site ORDER BY version DESC LIMIT 1", ReadPolicy, ct, ("$site", siteId));
            var policy = build(latest.Count == 0 ? null : latest[0]);
            await ExecuteAsync(connection, tx,
                """
                INSERT INTO policies (site_id, version, published_at, content_hash, material, content)
                VALUES ($site, $version, $published, $hash, $material, $content)
                """, ct,
                ("$site", policy.SiteId), ("$version", policy.Version), ("$published", Millis(policy.PublishedAt)),
                ("$hash", policy.ContentHash), ("$material", policy.Material), ("$content", JsonSerializer.Serialize(policy.Content, Json)));
            published = policy;
        }, ct);
        return published!;
    }

    public async Task<IReadOnlyList<Policy>> ListPoliciesAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT * FROM policies WHERE site_id = $site ORDER BY version", ReadPolicy, ct, ("$site", siteId));
    }

    private static Policy ReadPolicy(DbDataReader r) => new(
        r.GetString(r.GetOrdinal("site_id")),
        r.GetInt32(r.GetOrdinal("version")),
        FromMillis(r.GetInt64(r.GetOrdinal("published_at"))),
        r.GetString(r.GetOrdinal("content_hash")),
        r.GetBoolean(r.GetOrdinal("material")),
        JsonSerializer.Deserialize<PolicyContent>(r.GetString(r.GetOrdinal("content")), Json)!);

    // ---- consent ledger ----------------------------------------------------------------------

    public async Task<AppendResult> AppendConsentAsync(
        string siteId, string subjectId, string? idempotencyKey, Func<ChainHead, ConsentRecord> build, CancellationToken ct)
    {
        AppendResult? result = null;
        await WriteAsync(async (connection, tx) =>
        {
            if (idempotencyKey is not null)
            {
                var earlier = await QueryAsync(connection, tx,
                    "SELECT * FROM consents WHERE site_id = $site AND idempotency_key = $key", ReadConsent, ct,
                    ("$site", siteId), ("$key", idempotencyKey));
                if (earlier.Count > 0)
                {
                    result = new AppendResult(earlier[0], Created: false);
                    return;
                }
            }

            // The write lock makes positions follow commit order: a reader never sees position n+1 before n.
            var position = await ScalarAsync<long>(connection, tx,
                "SELECT coalesce(max(position), 0) + 1 FROM consents WHERE site_id = $site", ct, ("$site", siteId));
            var heads = await QueryAsync(connection, tx,
                "SELECT subject_key, head_sequence, head_hash FROM subjects WHERE site_id = $site AND subject_id = $subject",
                r => new ChainHead((byte[])r["subject_key"], r.GetInt64(1), r.IsDBNull(2) ? null : r.GetString(2), position), ct,
                ("$site", siteId), ("$subject", subjectId));
            var head = heads.Count > 0 ? heads[0] : new ChainHead(RandomNumberGenerator.GetBytes(32), 0, null, position);
            var record = build(head);

            await ExecuteAsync(connection, tx,
                """
                INSERT INTO consents (id, site_id, subject_id, subject_commitment, sequence, position, policy_version, policy_hash,
                    purposes, method, source, source_commitment, recorded_at, idempotency_key, request_hash, prev_hash, hash)
                VALUES ($id, $site, $subject, $commitment, $sequence, $position, $policyVersion, $policyHash,
                    $purposes, $method, $source, $sourceCommitment, $recordedAt, $idempotencyKey, $requestHash, $prevHash, $hash)
                """, ct,
                ("$id", record.Id), ("$site", record.SiteId), ("$subject", record.SubjectId), ("$commitment", record.SubjectCommitment),
                ("$sequence", record.Sequence), ("$position", record.Position), ("$policyVersion", record.PolicyVersion), ("$policyHash", record.PolicyHash),
                ("$purposes", JsonSerializer.Serialize(record.Purposes, Json)), ("$method", JsonDefaults.Name(record.Method)),
                ("$source", record.Source is null ? null : JsonSerializer.Serialize(record.Source, Json)),
                ("$sourceCommitment", record.SourceCommitment), ("$recordedAt", Millis(record.RecordedAt)),
                ("$idempotencyKey", record.IdempotencyKey), ("$requestHash", record.RequestHash),
                ("$prevHash", record.PrevHash), ("$hash", record.Hash));
            await ExecuteAsync(connection, tx,
                """
                INSERT INTO subjects (site_id, subject_id, subject_key, head_sequence, head_hash, head_record_id)
                VALUES ($site, $subject, $key, $sequence, $hash, $id)
                ON CONFLICT (site_id, subject_id) DO UPDATE
                SET head_sequence = excluded.head_sequence, head_hash = excluded.head_hash, head_record_id = excluded.head_record_id
                """, ct,
                ("$site", siteId), ("$subject", subjectId), ("$key", head.SubjectKey), ("$sequence", record.Sequence),
                ("$hash", record.Hash), ("$id", record.Id));
            result = new AppendResult(record, Created: true);
        }, ct);
        return result!;
    }

    public async Task<ConsentRecord?> GetCurrentConsentAsync(string siteId, string subjectId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var records = await QueryAsync(connection, null,
            """
            SELECT c.* FROM subjects s JOIN consents c ON c.id = s.head_record_id
            WHERE s.site_id = $site AND s.subject_id = $subject
            """, ReadConsent, ct, ("$site", siteId), ("$subject", subjectId));
        return records.Count == 0 ? null : records[0];
    }

    public async Task<IReadOnlyList<ConsentRecord>> GetHistoryAsync(string siteId, string subjectId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null,
            "SELECT * FROM consents WHERE site_id = $site AND subject_id = $subject ORDER BY sequence",
            ReadConsent, ct, ("$site", siteId), ("$subject", subjectId));
    }

    public async Task<ConsentRecord?> GetConsentAsync(string siteId, string recordId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var records = await QueryAsync(connection, null, "SELECT * FROM consents WHERE site_id = $site AND id = $id", ReadConsent, ct,
            ("$site", siteId), ("$id", recordId));
        return records.Count == 0 ? null : records[0];
    }

    public IAsyncEnumerable<ConsentRecord> QueryConsentsAsync(string siteId, ConsentFilter filter, long afterPosition, CancellationToken ct)
    {
        var sql = new StringBuilder("SELECT * FROM consents WHERE site_id = $site AND position > $after");
        var parameters = new List<(string, object?)> { ("$site", siteId), ("$after", afterPosition) };
        void Where(string clause, string name, object value)
        {
            sql.Append(" AND ").Append(clause);
            parameters.Add((name, value));
        }
        if (filter.SubjectId is { } subject) Where("subject_id = $subject", "$subject", subject);
        if (filter.Method is { } method) Where("method = $method", "$method", JsonDefaults.Name(method));
        if (filter.PolicyVersion is { } version) Where("policy_version = $version", "$version", version);
        if (filter.From is { } from) Where("recorded_at >= $from", "$from", Millis(from));
        if (filter.To is { } to) Where("recorded_at < $to", "$to", Millis(to));
        if (filter.Purpose is { } purpose)
        {
            // A JSON path with the id quoted; purpose ids are [a-z0-9_] anyway (PolicyRules).
            Where(filter.Granted is null ? "json_type(purposes, $path) IS NOT NULL" : "json_extract(purposes, $path) = $granted",
                "$path", $"$.\"{purpose}\"");
            if (filter.Granted is { } granted) parameters.Add(("$granted", granted ? 1 : 0));
        }
        sql.Append(" ORDER BY position");
        return StreamAsync(sql.ToString(), [.. parameters], ct);
    }

    public IAsyncEnumerable<ConsentRecord> ReadChainsAsync(string siteId, CancellationToken ct) =>
        StreamAsync("SELECT * FROM consents WHERE site_id = $site ORDER BY subject_commitment, sequence", [("$site", siteId)], ct);

    public async Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT id FROM sites ORDER BY id", r => r.GetString(0), ct);
    }

    public async Task<long?> EraseSubjectAsync(string siteId, string subjectId, CancellationToken ct)
    {
        long? last = null;
        await WriteAsync(async (connection, tx) =>
        {
            last = await ScalarAsync<long?>(connection, tx,
                "SELECT max(position) FROM consents WHERE site_id = $site AND subject_id = $subject", ct, ("$site", siteId), ("$subject", subjectId));
            await ExecuteAsync(connection, tx,
                """
                UPDATE consents SET subject_id = NULL, source = NULL, idempotency_key = NULL, request_hash = NULL
                WHERE site_id = $site AND subject_id = $subject;
                DELETE FROM subjects WHERE site_id = $site AND subject_id = $subject;
                """, ct, ("$site", siteId), ("$subject", subjectId));
        }, ct);
        return last;
    }

    public async IAsyncEnumerable<string> SubjectsIdleSinceAsync(string siteId, DateTimeOffset cutoff, [EnumeratorCancellation] CancellationToken ct)
    {
        // Collected first: the caller erases each one, and a write must not wait on this open read.
        await using var connection = await OpenReadAsync(ct);
        var idle = await QueryAsync(connection, null,
            """
            SELECT s.subject_id FROM subjects s JOIN consents c ON c.id = s.head_record_id
            WHERE s.site_id = $site AND c.recorded_at < $cutoff
            """, r => r.GetString(0), ct, ("$site", siteId), ("$cutoff", Millis(cutoff)));
        foreach (var subject in idle)
        {
            yield return subject;
        }
    }

    public async Task<DateTimeOffset?> NewestRecordedAtAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        // One step down ix_consents_recorded (site_id, recorded_at): SQLite's min/max optimisation.
        var newest = await ScalarAsync<long?>(connection, null, "SELECT max(recorded_at) FROM consents WHERE site_id = $site", ct, ("$site", siteId));
        return newest is { } millis ? FromMillis(millis) : null;
    }

    public async Task<bool> AddCheckpointAsync(Checkpoint checkpoint, CancellationToken ct)
    {
        var added = false;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx,
                """
                INSERT INTO checkpoints (site_id, tree_size, root_hash, signed_at, signature)
                VALUES ($site, $size, $root, $at, $signature) ON CONFLICT DO NOTHING
                """, ct,
                ("$site", checkpoint.SiteId), ("$size", checkpoint.TreeSize), ("$root", checkpoint.RootHash),
                ("$at", Millis(checkpoint.SignedAt)), ("$signature", checkpoint.Signature));
            added = await ScalarAsync<long>(connection, tx, "SELECT changes()", ct) > 0;
        }, ct);
        return added;
    }

    public async Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT * FROM checkpoints WHERE site_id = $site ORDER BY tree_size",
            r => new Checkpoint(r.GetString(0), r.GetInt64(1), r.GetString(2), FromMillis(r.GetInt64(3)), r.GetString(4)), ct, ("$site", siteId));
    }

    private async IAsyncEnumerable<ConsentRecord> StreamAsync(string sql, (string, object?)[] parameters, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        await using var command = Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            yield return ReadConsent(reader);
        }
    }

    private static ConsentRecord ReadConsent(DbDataReader r) => new(
        r.GetString(r.GetOrdinal("id")),
        r.GetString(r.GetOrdinal("site_id")),
        NullableString(r, "subject_id"),
        r.GetString(r.GetOrdinal("subject_commitment")),
        r.GetInt64(r.GetOrdinal("sequence")),
        r.GetInt64(r.GetOrdinal("position")),
        r.GetInt32(r.GetOrdinal("policy_version")),
        r.GetString(r.GetOrdinal("policy_hash")),
        JsonSerializer.Deserialize<Dictionary<string, bool>>(r.GetString(r.GetOrdinal("purposes")), Json)!,
        JsonDefaults.Parse<ConsentMethod>(r.GetString(r.GetOrdinal("method"))),
        NullableString(r, "source") is { } source ? JsonSerializer.Deserialize<ConsentSource>(source, Json) : null,
        NullableString(r, "source_commitment"),
        FromMillis(r.GetInt64(r.GetOrdinal("recorded_at"))),
        NullableString(r, "idempotency_key"),
        NullableString(r, "request_hash"),
        NullableString(r, "prev_hash"),
        r.GetString(r.GetOrdinal("hash")));

    // ---- plumbing ----------------------------------------------------------------------------

    private const int SchemaVersion = 2;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS sites (
            id TEXT PRIMARY KEY,
            document TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            role TEXT NOT NULL,
            label TEXT,
            hint TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_api_keys_site ON api_keys (site_id, created_at);
        CREATE TABLE IF NOT EXISTS policies (
            site_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            published_at INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            material INTEGER NOT NULL,
            content TEXT NOT NULL,
            PRIMARY KEY (site_id, version)
        ) STRICT;
        CREATE TABLE IF NOT EXISTS subjects (
            site_id TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            subject_key BLOB NOT NULL,
            head_sequence INTEGER NOT NULL,
            head_hash TEXT,
            head_record_id TEXT,
            PRIMARY KEY (site_id, subject_id)
        ) STRICT;
        CREATE TABLE IF NOT EXISTS consents (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            subject_id TEXT,
            subject_commitment TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            position INTEGER NOT NULL,
            policy_version INTEGER NOT NULL,
            policy_hash TEXT NOT NULL,
            purposes TEXT NOT NULL,
            method TEXT NOT NULL,
            source TEXT,
            source_commitment TEXT,
            recorded_at INTEGER NOT NULL,
            idempotency_key TEXT,
            request_hash TEXT,
            prev_hash TEXT,
            hash TEXT NOT NULL,
            UNIQUE (site_id, subject_commitment, sequence),
            UNIQUE (site_id, position)
        ) STRICT;
        CREATE TABLE IF NOT EXISTS checkpoints (
            site_id TEXT NOT NULL,
            tree_size INTEGER NOT NULL,
            root_hash TEXT NOT NULL,
            signed_at INTEGER NOT NULL,
            signature TEXT NOT NULL,
            PRIMARY KEY (site_id, tree_size)
        ) STRICT;
        CREATE UNIQUE INDEX IF NOT EXISTS ux_consents_idempotency ON consents (site_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_consents_subject ON consents (site_id, subject_id, sequence);
        CREATE INDEX IF NOT EXISTS ix_consents_recorded ON consents (site_id, recorded_at, id);
        """;

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction and returns once it is committed. Writes that
    /// queue up meanwhile share one transaction (group commit): with synchronous=FULL each commit costs a
    /// sync to disk, so one sync for a batch multiplies write throughput, and every caller still hears back
    /// only after its own change is durable. Each write runs in its own savepoint: one that fails is rolled
    /// back alone and fails alone.
    /// </summary>
    private Task WriteAsync(Func<SqliteConnection, SqliteTransaction, Task> work, CancellationToken ct)
    {
        var mine = new PendingWrite(work, ct);
        _pending.Enqueue(mine);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            _ = Task.Run(DrainAsync, CancellationToken.None);
        }
        return mine.Done.Task;
    }

    /// <summary>The one writer loop: commits what is queued, batch after batch, until the queue is empty.</summary>
    private async Task DrainAsync()
    {
        do
        {
            while (!_pending.IsEmpty)
            {
                await _writeGate.WaitAsync(CancellationToken.None);
                try
                {
                    await CommitBatchAsync();
                }
                finally
                {
                    _writeGate.Release();
                }
            }
            Volatile.Write(ref _draining, 0);
        }
        // A write queued just before the flag dropped would otherwise wait for the next writer.
        while (!_pending.IsEmpty && Interlocked.CompareExchange(ref _draining, 1, 0) == 0);
    }

    private async Task CommitBatchAsync()
    {
        var batch = new List<PendingWrite>();
        while (batch.Count < MaxBatch && _pending.TryDequeue(out var next))
        {
            batch.Add(next);
        }
        var applied = new List<PendingWrite>(batch.Count);
        try
        {
            var writer = _writer ?? throw new InvalidOperationException("The store is not initialised.");
            await using var tx = writer.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: take the write lock first
            foreach (var write in batch)
            {
                if (write.Ct.IsCancellationRequested)
                {
                    write.Done.TrySetCanceled(write.Ct);
                    continue;
                }
                tx.Save("write");
                try
                {
                    await write.Work(writer, tx);
                    tx.Release("write");
                    applied.Add(write);
                }
                catch (Exception e)
                {
                    tx.Rollback("write");
                    tx.Release("write");
                    write.Done.TrySetException(e);
                }
            }
            await tx.CommitAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            foreach (var write in batch)
            {
                write.Done.TrySetException(e); // nothing of this batch is committed
            }
            return;
        }
        foreach (var write in applied)
        {
            write.Done.TrySetResult();
        }
    }

    private const int MaxBatch = 256;
    private int _draining;
    private readonly ConcurrentQueue<PendingWrite> _pending = new();

    private sealed record PendingWrite(Func<SqliteConnection, SqliteTransaction, Task> Work, CancellationToken Ct)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private Task<SqliteConnection> OpenReadAsync(CancellationToken ct) => OpenAsync(connectionString, ct);

    private static long Millis(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMillis(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis);

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }
        _writeGate.Dispose();
    }
}
