using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
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
public sealed partial class SqliteConsentStore(string connectionString) : IConsentStore, IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = JsonDefaults.Options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;

    public static SqliteConsentStore ForFile(string path, TimeProvider? webhookClock = null) => new(FileConnectionString(path)) { WebhookClock = webhookClock ?? TimeProvider.System };

    public async Task InitializeAsync(CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            if (_writer is not null) return;
            var writer = await OpenWriterAsync(connectionString, ct);
            await ExecuteAsync(writer, null, WalCheckpointer.WriterPragmas, ct);
            var version = await ScalarAsync<long>(writer, null, "PRAGMA user_version", ct);
            var empty = await ScalarAsync<long>(writer, null, "SELECT count(*) FROM sqlite_master", ct) == 0;
            if (!empty && version != SchemaVersion)
            {
                throw new StartupFailureException(
                    $"{writer.DataSource} has schema version {version}, this build needs {SchemaVersion}: it was made by an earlier development build. Move it away to start afresh.");
            }
            await ExecuteAsync(writer, null, Schema + IdentitySchema + WebhookSchema + ScanSchema + $"PRAGMA user_version = {SchemaVersion};", ct);
            KeepPrepared(writer);
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

    public Task<bool> RevokeApiKeyAsync(string siteId, string keyId, DateTimeOffset revokedAt, CancellationToken ct) =>
        WriteChangesAsync("UPDATE api_keys SET revoked_at = coalesce(revoked_at, $at) WHERE site_id = $site AND id = $id", ct,
            ("$at", Millis(revokedAt)), ("$site", siteId), ("$id", keyId));

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
            await EnqueueWebhookAsync(connection, tx, Webhooks.WebhookEvents.Published(policy), ct);
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
        string siteId, string subjectId, string? idempotencyKey, byte[]? writeSecretHash, byte[] newSubjectKey,
        Func<ChainHead, ConsentRecord> build, CancellationToken ct)
    {
        AppendResult? result = null;
        var appended = new AppendSlot();
        await WriteAsync(async (connection, tx) =>
        {
            var heads = await QueryAsync(connection, tx,
                "SELECT subject_key, head_sequence, head_hash, write_secret_hash FROM subjects WHERE site_id = $site AND subject_id = $subject",
                r => (Key: (byte[])r["subject_key"], Sequence: r.GetInt64(1), Hash: r.IsDBNull(2) ? null : r.GetString(2), SecretHash: r.IsDBNull(3) ? null : (byte[])r[3]), ct,
                ("$site", siteId), ("$subject", subjectId));
            if (writeSecretHash is not null && heads is [{ SecretHash: { } stored }] && !SubjectSecrets.Matches(stored, writeSecretHash))
            {
                throw new SubjectSecretMismatchException();
            }
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
            // The ledger head's size wins over the records: a deleted newest record leaves a gap verify reports,
            // rather than a position the next append silently reuses.
            // An earlier append of this batch took the position before: the query would answer the next one.
            var position = _batchPositions.TryGetValue(siteId, out var taken) ? taken + 1 : await ScalarAsync<long>(connection, tx,
                """
                SELECT max(coalesce((SELECT size FROM ledgers WHERE site_id = $site), 0),
                           coalesce((SELECT max(position) FROM consents WHERE site_id = $site), 0)) + 1
                """, ct, ("$site", siteId));
            var head = heads is [var found]
                ? await ChainEndAsync(connection, tx, siteId, subjectId, found.Key, position, ct)
                : new ChainHead(newSubjectKey, 0, null, position);
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
                INSERT INTO subjects (site_id, subject_id, subject_key, head_sequence, head_hash, head_record_id, write_secret_hash)
                VALUES ($site, $subject, $key, $sequence, $hash, $id, $secretHash)
                ON CONFLICT (site_id, subject_id) DO UPDATE
                SET head_sequence = excluded.head_sequence, head_hash = excluded.head_hash, head_record_id = excluded.head_record_id,
                    write_secret_hash = coalesce(subjects.write_secret_hash, excluded.write_secret_hash)
                """, ct,
                ("$site", siteId), ("$subject", subjectId), ("$key", head.SubjectKey), ("$sequence", record.Sequence),
                ("$hash", record.Hash), ("$id", record.Id), ("$secretHash", writeSecretHash));
            await EnqueueWebhookAsync(connection, tx, Webhooks.WebhookEvents.Recorded(record), ct);
            result = new AppendResult(record, Created: true);
            appended.Record = record;
        }, ct, append: appended);
        return appended.Batch is { } batch ? result! with { Batch = batch } : result!;
    }

    /// <summary>
    /// The chain's actual last record (by the key's commitment, highest sequence), not the stored head:
    /// a head pointed back by an edit would otherwise make the subject's next decision (a withdrawal,
    /// say) fail on the sequence it repeats.
    /// </summary>
    private static async Task<ChainHead> ChainEndAsync(
        SqliteConnection connection, SqliteTransaction tx, string siteId, string subjectId, byte[] key, long position, CancellationToken ct)
    {
        var ends = await QueryAsync(connection, tx,
            "SELECT sequence, hash FROM consents WHERE site_id = $site AND subject_commitment = $commitment ORDER BY sequence DESC LIMIT 1",
            r => (Sequence: r.GetInt64(0), Hash: r.GetString(1)), ct, ("$site", siteId), ("$commitment", ConsentChain.Commit(key, subjectId)));
        return ends.Count > 0 ? new ChainHead(key, ends[0].Sequence, ends[0].Hash, position) : new ChainHead(key, 0, null, position);
    }

    public async Task<ConsentRecord?> GetCurrentConsentAsync(string siteId, string subjectId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var keys = await QueryAsync(connection, null, "SELECT subject_key FROM subjects WHERE site_id = $site AND subject_id = $subject",
            r => (byte[])r[0], ct, ("$site", siteId), ("$subject", subjectId));
        if (keys.Count == 0)
        {
            return null;
        }
        // By the commitment, not subject_id: a record moved in from another subject does not count, one moved out still does.
        var records = await QueryAsync(connection, null,
            "SELECT * FROM consents WHERE site_id = $site AND subject_commitment = $commitment ORDER BY sequence DESC LIMIT 1",
            ReadConsent, ct, ("$site", siteId), ("$commitment", ConsentChain.Commit(keys[0], subjectId)));
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

    public IAsyncEnumerable<ChainLink> ReadChainsAsync(string siteId, CancellationToken ct) =>
        StreamAsync(
            """
            SELECT c.*, s.subject_key AS head_key, s.head_sequence AS head_sequence, s.head_hash AS head_hash, s.head_record_id AS head_record_id
            FROM consents c LEFT JOIN subjects s ON s.site_id = c.site_id AND s.subject_id = c.subject_id
            WHERE c.site_id = $site ORDER BY c.subject_commitment, c.sequence
            """, [("$site", siteId)], r => new ChainLink(ReadConsent(r), r.IsDBNull(r.GetOrdinal("head_key")) ? null : new SubjectHead(
                (byte[])r["head_key"], r.GetInt64(r.GetOrdinal("head_sequence")), NullableString(r, "head_hash"), NullableString(r, "head_record_id"))), ct);

    public async Task<LedgerHead> GetLedgerHeadAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var heads = await QueryAsync(connection, null, "SELECT size, last_hash FROM ledgers WHERE site_id = $site",
            r => new LedgerHead(r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1)), ct, ("$site", siteId));
        return heads.Count == 0 ? new LedgerHead(0, null) : heads[0];
    }

    public async Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT id FROM sites ORDER BY id", r => r.GetString(0), ct);
    }

    public async Task<long?> EraseSubjectAsync(string siteId, string subjectId, CancellationToken ct)
    {
        long? last = null;
        // scrub: the answer waits until the WAL holding the old page images is checkpointed and truncated.
        await WriteAsync(async (connection, tx) =>
        {
            last = await ScalarAsync<long?>(connection, tx,
                "SELECT max(position) FROM consents WHERE site_id = $site AND subject_id = $subject", ct, ("$site", siteId), ("$subject", subjectId));
            await ShredWebhookMessagesAsync(connection, tx, siteId, subjectId, last, ct);
            await ExecuteAsync(connection, tx,
                """
                UPDATE consents SET subject_id = NULL, source = NULL, idempotency_key = NULL, request_hash = NULL
                WHERE site_id = $site AND subject_id = $subject;
                DELETE FROM subjects WHERE site_id = $site AND subject_id = $subject;
                DELETE FROM subject_links WHERE site_id = $site AND (user_id = $subject OR subject_id = $subject);
                """, ct, ("$site", siteId), ("$subject", subjectId));
        }, ct, scrub: true);
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

    public Task<bool> AddCheckpointAsync(Checkpoint checkpoint, CancellationToken ct) =>
        WriteChangesAsync(
            """
            INSERT INTO checkpoints (site_id, tree_size, root_hash, signed_at, signature)
            VALUES ($site, $size, $root, $at, $signature) ON CONFLICT DO NOTHING
            """, ct,
            ("$site", checkpoint.SiteId), ("$size", checkpoint.TreeSize), ("$root", checkpoint.RootHash),
            ("$at", Millis(checkpoint.SignedAt)), ("$signature", checkpoint.Signature));

    public async Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT * FROM checkpoints WHERE site_id = $site ORDER BY tree_size",
            r => new Checkpoint(r.GetString(0), r.GetInt64(1), r.GetString(2), FromMillis(r.GetInt64(3)), r.GetString(4)), ct, ("$site", siteId));
    }

    public async Task<byte[]> GetOrAddSecretAsync(string name, byte[] candidate, CancellationToken ct)
    {
        byte[]? secret = null;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx, "INSERT OR IGNORE INTO deployment_secrets (name, value) VALUES ($name, $value)", ct,
                ("$name", name), ("$value", candidate));
            secret = await ScalarAsync<byte[]>(connection, tx, "SELECT value FROM deployment_secrets WHERE name = $name", ct, ("$name", name));
        }, ct);
        return secret!;
    }

    // ---- signing keys ------------------------------------------------------------------------

    public async Task<IReadOnlyList<SigningKey>> ListSigningKeysAsync(CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT * FROM signing_keys ORDER BY activated_at, kid", ReadSigningKey, ct);
    }

    public async Task<SigningKey?> ActivateSigningKeyAsync(SigningKey key, IReadOnlySet<string> retiring, CancellationToken ct)
    {
        SigningKey? result = null;
        // One write transaction (BEGIN IMMEDIATE): two instances starting together cannot both become active.
        await WriteAsync(async (connection, tx) =>
        {
            var active = (await QueryAsync(connection, tx, "SELECT * FROM signing_keys WHERE retired_at IS NULL", ReadSigningKey, ct)).FirstOrDefault();
            result = active;
            if (active?.Kid == key.Kid
                || await ScalarAsync<long>(connection, tx, "SELECT count(*) FROM signing_keys WHERE kid = $kid", ct, ("$kid", key.Kid)) > 0
                || (active is not null && !retiring.Contains(active.Kid)))
            {
                return;
            }
            if (active is not null)
            {
                await ExecuteAsync(connection, tx, "UPDATE signing_keys SET retired_at = $at WHERE kid = $kid", ct,
                    ("$at", Millis(key.ActivatedAt)), ("$kid", active.Kid));
            }
            await ExecuteAsync(connection, tx,
                "INSERT INTO signing_keys (kid, x, y, activated_at, retired_at, compromised_at) VALUES ($kid, $x, $y, $at, NULL, NULL)", ct,
                ("$kid", key.Kid), ("$x", key.X), ("$y", key.Y), ("$at", Millis(key.ActivatedAt)));
            result = key with { RetiredAt = null, CompromisedAt = null };
        }, ct);
        return result;
    }

    public Task<bool> MarkSigningKeyCompromisedAsync(string kid, DateTimeOffset from, CancellationToken ct) =>
        WriteChangesAsync("UPDATE signing_keys SET compromised_at = $at WHERE kid = $kid", ct, ("$at", Millis(from)), ("$kid", kid));

    private static SigningKey ReadSigningKey(DbDataReader r) => new(
        r.GetString(r.GetOrdinal("kid")),
        r.GetString(r.GetOrdinal("x")),
        r.GetString(r.GetOrdinal("y")),
        FromMillis(r.GetInt64(r.GetOrdinal("activated_at"))),
        r.IsDBNull(r.GetOrdinal("retired_at")) ? null : FromMillis(r.GetInt64(r.GetOrdinal("retired_at"))),
        r.IsDBNull(r.GetOrdinal("compromised_at")) ? null : FromMillis(r.GetInt64(r.GetOrdinal("compromised_at"))));

    private IAsyncEnumerable<ConsentRecord> StreamAsync(string sql, (string, object?)[] parameters, CancellationToken ct) =>
        StreamAsync(sql, parameters, ReadConsent, ct);

    private async IAsyncEnumerable<T> StreamAsync<T>(
        string sql, (string, object?)[] parameters, Func<DbDataReader, T> read, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        await using var command = Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            yield return read(reader);
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

    private const int SchemaVersion = 4;

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
            write_secret_hash BLOB, -- SHA-256 of the anonymous subject's write secret; null until one is presented
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
        -- The site's ledger head, written with every append: verify compares it with the last record.
        CREATE TABLE IF NOT EXISTS ledgers (
            site_id TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            last_hash TEXT
        ) STRICT;
        -- Public keys only (JWK x/y): the private key never enters the store. At most one key is active (not retired).
        CREATE TABLE IF NOT EXISTS signing_keys (
            kid TEXT PRIMARY KEY,
            x TEXT NOT NULL,
            y TEXT NOT NULL,
            activated_at INTEGER NOT NULL,
            retired_at INTEGER,
            compromised_at INTEGER
        ) STRICT;
        CREATE UNIQUE INDEX IF NOT EXISTS ux_signing_keys_active ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
        CREATE TABLE IF NOT EXISTS deployment_secrets (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL
        ) STRICT;
        """;

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction and returns once it is committed. Writes that
    /// queue up meanwhile share one transaction (group commit): with synchronous=FULL each commit costs a
    /// sync to disk, so one sync for a batch multiplies write throughput, and every caller still hears back
    /// only after its own change is durable. Each write runs in its own savepoint: one that fails is rolled
    /// back alone and fails alone.
    /// </summary>
    private Task WriteAsync(Func<SqliteConnection, SqliteTransaction, Task> work, CancellationToken ct, bool scrub = false, AppendSlot? append = null)
    {
        var mine = new PendingWrite(work, scrub, ct) { Append = append };
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
        List<CommitBatch> commitBatches;
        var storageFault = false;
        try
        {
            var writer = _writer ?? throw new InvalidOperationException("The store is not initialised.");
            await using var tx = writer.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: take the write lock first
            _batchPositions.Clear();
            foreach (var write in batch)
            {
                if (write.Ct.IsCancellationRequested)
                {
                    write.Done.TrySetCanceled(write.Ct);
                    continue;
                }
                // Savepoints as kept statements (SqliteTransaction.Save would parse "SAVEPOINT …" for every write).
                await ExecuteAsync(writer, tx, "SAVEPOINT write", CancellationToken.None);
                try
                {
                    await write.Work(writer, tx);
                    await ExecuteAsync(writer, tx, "RELEASE write", CancellationToken.None);
                    applied.Add(write);
                    if (write.Append?.Record is { } record) _batchPositions[record.SiteId] = record.Position;
                }
                catch (Exception e)
                {
                    await ExecuteAsync(writer, tx, "ROLLBACK TO write", CancellationToken.None);
                    await ExecuteAsync(writer, tx, "RELEASE write", CancellationToken.None);
                    var failure = _writeHealth.Failed(e);
                    storageFault |= failure is StorageUnavailableException;
                    write.Done.TrySetException(failure);
                }
            }
            // The applied appends, by site in ledger order: the batches their receipts are signed in once this commit is durable.
            commitBatches = [.. CommitBatch.Of(applied.Select(w => w.Append?.Record).OfType<ConsentRecord>())];
            foreach (var last in commitBatches.Select(b => b.Records[^1]))
            {
                // The site's ledger head, in the same transaction: once per batch, at its last record, not once per append.
                await ExecuteAsync(writer, tx,
                    """
                    INSERT INTO ledgers (site_id, size, last_hash) VALUES ($site, $size, $hash)
                    ON CONFLICT (site_id) DO UPDATE SET size = excluded.size, last_hash = excluded.last_hash
                    """, CancellationToken.None, ("$site", last.SiteId), ("$size", last.Position), ("$hash", last.Hash));
            }
            await tx.CommitAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            var failure = _writeHealth.Failed(e);
            foreach (var write in batch)
            {
                write.Done.TrySetException(failure); // nothing of this batch is committed
            }
            return;
        }
        if (!storageFault) _writeHealth.Committed();
        // Durable now: each append learns the batch its receipt is signed in.
        var batches = new Dictionary<string, CommitBatch>(StringComparer.Ordinal);
        foreach (var sealedBatch in commitBatches)
        {
            foreach (var record in sealedBatch.Records) batches[record.Id] = sealedBatch;
        }
        foreach (var write in applied)
        {
            if (write.Append is { Record: { } appended } slot) slot.Batch = batches[appended.Id];
        }
        if (applied.Any(w => w.Scrub))
        {
            var erasure = ++_erasures;
            var erased = applied.Where(w => w.Scrub).ToList();
            _ = Task.Run(async () =>
            {
                try
                {
                    await ScrubAsync(erasure);
                }
                finally
                {
                    // Committed either way; a scrub that failed stays pending and later commits retry it.
                    erased.ForEach(w => w.Done.TrySetResult());
                }
            }, CancellationToken.None);
        }
        else if (_scrubbed < _erasures)
        {
            // An earlier scrub gave up on a long read: try again now, once, without waiting.
            await TryScrubAsync();
        }
        foreach (var write in applied.Where(w => !w.Scrub))
        {
            write.Done.TrySetResult();
        }
        await _checkpointer.AfterCommitAsync(_writer!, applied.Count);
    }

    /// <summary>
    /// Erased content leaves no copy behind: secure_delete zeroes it in the database pages, but the WAL
    /// still holds the pages as they were before, until a checkpoint copies the new ones into the database
    /// file and the WAL is truncated. TRUNCATE cannot finish while a reader still reads an older snapshot
    /// (those pages are its view), so it is retried between write batches (the gate is not held while
    /// waiting: writes go on) until <paramref name="erasure"/> and everything before it is scrubbed, for at
    /// most <see cref="ScrubTimeout"/>; after that the next commits keep trying.
    /// </summary>
    private async Task ScrubAsync(long erasure)
    {
        var started = Environment.TickCount64;
        while (true)
        {
            await _writeGate.WaitAsync(CancellationToken.None);
            try
            {
                if (_scrubbed >= erasure || await TryScrubAsync()) return;
            }
            finally
            {
                _writeGate.Release();
            }
            if (Environment.TickCount64 - started > ScrubTimeout.TotalMilliseconds) return;
            await Task.Delay(ScrubRetry, CancellationToken.None);
        }
    }

    /// <summary>
    /// One attempt, under the write gate; true when every erasure committed so far is scrubbed. A failing
    /// checkpoint (an I/O error) counts as not yet: it must never stop the writer loop.
    /// </summary>
    private async Task<bool> TryScrubAsync()
    {
        var upTo = _erasures;
        try
        {
            if (_writer is null || !await TryTruncateWalAsync(_writer, CancellationToken.None)) return false;
        }
        catch (SqliteException)
        {
            return false;
        }
        _scrubbed = upTo;
        return true;
    }

    private static readonly TimeSpan ScrubTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ScrubRetry = TimeSpan.FromMilliseconds(20);
    /// <summary>Erasure batches committed, and how many of them the WAL is known to be free of; both under the write gate.</summary>
    private long _erasures, _scrubbed;

    private const int MaxBatch = 256;
    /// <summary>Per site, the last position an applied append of the batch being committed took; the writer's alone.</summary>
    private readonly Dictionary<string, long> _batchPositions = new(StringComparer.Ordinal);
    private readonly WalCheckpointer _checkpointer = new(connectionString);

    /// <summary>For tests: how long the log may grow before the writer starts it again.</summary>
    internal long WalRestartPages { init => _checkpointer = new(connectionString) { RestartFrames = value }; }

    private int _draining;
    private readonly ConcurrentQueue<PendingWrite> _pending = new();

    private sealed record PendingWrite(Func<SqliteConnection, SqliteTransaction, Task> Work, bool Scrub, CancellationToken Ct)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>For a consent append: the record it wrote, and once committed, the batch it was committed in.</summary>
        public AppendSlot? Append { get; init; }
    }

    private sealed class AppendSlot
    {
        public ConsentRecord? Record { get; set; }
        public CommitBatch? Batch { get; set; }
    }

    /// <summary>Runs one statement as a write of its own; whether it changed a row.</summary>
    private async Task<bool> WriteChangesAsync(string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        var changed = false;
        await WriteAsync(async (connection, tx) =>
        {
            await ExecuteAsync(connection, tx, sql, ct, parameters);
            changed = await ScalarAsync<long>(connection, tx, "SELECT changes()", ct) > 0;
        }, ct);
        return changed;
    }

    private Task<SqliteConnection> OpenReadAsync(CancellationToken ct) => OpenAsync(connectionString, ct);

    private static long Millis(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMillis(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis);

    // ---- write health ------------------------------------------------------------------------

    private readonly SqliteWriteHealth _writeHealth = new(new SqliteConnectionStringBuilder(connectionString).DataSource);

    /// <summary>
    /// After a write failed for a storage reason, a write that changes nothing but goes through the WAL
    /// like any other (the schema version, rewritten): readiness recovers as soon as the disk does, even
    /// while no client writes — a load balancer sends none to an instance it took out.
    /// </summary>
    public async Task<string?> WriteFailureAsync(CancellationToken ct)
    {
        if (_writeHealth.Failure is null) return null;
        try
        {
            await WriteAsync((connection, tx) => ExecuteAsync(connection, tx, $"PRAGMA user_version = {SchemaVersion}", ct), ct);
        }
        catch (StorageUnavailableException)
        {
            // still failing: reported below
        }
        return _writeHealth.Failure;
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _checkpointer.DisposeAsync(); // a checkpoint still running finishes before the writer closes
            ReleasePrepared(_writer);
            await _writer.DisposeAsync();
        }
        _writeGate.Dispose();
    }
}
