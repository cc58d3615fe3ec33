using ConsentService.Consents;
using ConsentService.Identity;
using static ConsentService.Storage.Sqlite.SqliteCommands;

namespace ConsentService.Storage.Sqlite;

/// <summary>Identified users (issue 15 §1): identity secrets, and links from anonymous subjects to user ids.</summary>
public sealed partial class SqliteConsentStore
{
    /// <summary>
    /// Schema version 4. A link names both ids in clear, as <c>subjects</c> does: erasure of either deletes it
    /// (under secure_delete, then the WAL scrub), so nothing of it stays.
    /// </summary>
    private const string IdentitySchema = """
        CREATE TABLE IF NOT EXISTS identity_secrets (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            seed BLOB NOT NULL, -- the secret is derived from it with the deployment's identity key; never stored itself
            hint TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_identity_secrets_site ON identity_secrets (site_id, created_at);
        CREATE TABLE IF NOT EXISTS subject_links (
            site_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            subject_id TEXT NOT NULL,
            linked_at INTEGER NOT NULL,
            PRIMARY KEY (site_id, user_id, subject_id)
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_subject_links_subject ON subject_links (site_id, subject_id);

        """;

    public Task AddIdentitySecretAsync(IdentitySecret secret, CancellationToken ct) =>
        WriteAsync((connection, tx) => ExecuteAsync(connection, tx,
            "INSERT INTO identity_secrets (id, site_id, seed, hint, created_at, revoked_at) VALUES ($id, $site, $seed, $hint, $created, $revoked)", ct,
            ("$id", secret.Id), ("$site", secret.SiteId), ("$seed", secret.Seed), ("$hint", secret.Hint), ("$created", Millis(secret.CreatedAt)),
            ("$revoked", secret.RevokedAt is { } revoked ? Millis(revoked) : null)), ct);

    public async Task<IReadOnlyList<IdentitySecret>> ListIdentitySecretsAsync(string siteId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT * FROM identity_secrets WHERE site_id = $site ORDER BY created_at, id",
            r => new IdentitySecret(
                r.GetString(r.GetOrdinal("id")),
                r.GetString(r.GetOrdinal("site_id")),
                (byte[])r["seed"],
                r.GetString(r.GetOrdinal("hint")),
                FromMillis(r.GetInt64(r.GetOrdinal("created_at"))),
                r.IsDBNull(r.GetOrdinal("revoked_at")) ? null : FromMillis(r.GetInt64(r.GetOrdinal("revoked_at")))), ct, ("$site", siteId));
    }

    public Task<bool> RevokeIdentitySecretAsync(string siteId, string secretId, DateTimeOffset revokedAt, CancellationToken ct) =>
        WriteChangesAsync("UPDATE identity_secrets SET revoked_at = coalesce(revoked_at, $at) WHERE site_id = $site AND id = $id", ct,
            ("$at", Millis(revokedAt)), ("$site", siteId), ("$id", secretId));

    public async Task<bool> LinkSubjectAsync(
        string siteId, string userId, string anonymousId, byte[] writeSecretHash, DateTimeOffset linkedAt, CancellationToken ct)
    {
        var linked = false;
        await WriteAsync(async (connection, tx) =>
        {
            var stored = await QueryAsync(connection, tx, "SELECT write_secret_hash FROM subjects WHERE site_id = $site AND subject_id = $subject",
                r => r.IsDBNull(0) ? null : (byte[])r[0], ct, ("$site", siteId), ("$subject", anonymousId));
            if (stored is not [{ } hash] || !SubjectSecrets.Matches(hash, writeSecretHash))
            {
                return;
            }
            await ExecuteAsync(connection, tx,
                "INSERT INTO subject_links (site_id, user_id, subject_id, linked_at) VALUES ($site, $user, $subject, $at) ON CONFLICT DO NOTHING", ct,
                ("$site", siteId), ("$user", userId), ("$subject", anonymousId), ("$at", Millis(linkedAt)));
            linked = true;
        }, ct);
        return linked;
    }

    public async Task<IReadOnlyList<SubjectLink>> ListLinkedSubjectsAsync(string siteId, string userId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null,
            "SELECT subject_id, linked_at FROM subject_links WHERE site_id = $site AND user_id = $user ORDER BY linked_at, subject_id",
            r => new SubjectLink(r.GetString(0), FromMillis(r.GetInt64(1))), ct, ("$site", siteId), ("$user", userId));
    }
}
