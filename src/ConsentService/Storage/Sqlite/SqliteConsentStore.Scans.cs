using System.Text.Json;
using ConsentService.Scans;
using static ConsentService.Storage.Sqlite.SqliteCommands;

namespace ConsentService.Storage.Sqlite;

/// <summary>Tracker scans: one row per scan, the scan itself (report included) as a JSON document.</summary>
public sealed partial class SqliteConsentStore
{
    private const string ScanSchema = """
        CREATE TABLE IF NOT EXISTS scans (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            document TEXT NOT NULL
        ) STRICT;
        CREATE INDEX IF NOT EXISTS ix_scans_site ON scans (site_id, created_at);
        CREATE INDEX IF NOT EXISTS ix_scans_status ON scans (status, created_at);

        """;

    public Task SaveScanAsync(Scan scan, CancellationToken ct) =>
        WriteAsync((connection, tx) => ExecuteAsync(connection, tx,
            """
            INSERT INTO scans (id, site_id, status, created_at, document) VALUES ($id, $site, $status, $created, $document)
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, document = excluded.document
            """, ct,
            ("$id", scan.Id), ("$site", scan.SiteId), ("$status", Infrastructure.JsonDefaults.Name(scan.Status)),
            ("$created", Millis(scan.CreatedAt)), ("$document", JsonSerializer.Serialize(scan, Json))), ct);

    public async Task<Scan?> GetScanAsync(string siteId, string scanId, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        var document = await ScalarAsync<string>(connection, null, "SELECT document FROM scans WHERE id = $id AND site_id = $site", ct,
            ("$id", scanId), ("$site", siteId));
        return document is null ? null : JsonSerializer.Deserialize<Scan>(document, Json);
    }

    public async Task<IReadOnlyList<Scan>> ListScansAsync(string siteId, int limit, CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT document FROM scans WHERE site_id = $site ORDER BY created_at DESC, id DESC LIMIT $limit",
            r => JsonSerializer.Deserialize<Scan>(r.GetString(0), Json)!, ct, ("$site", siteId), ("$limit", limit));
    }

    public async Task<IReadOnlyList<Scan>> ListUnfinishedScansAsync(CancellationToken ct)
    {
        await using var connection = await OpenReadAsync(ct);
        return await QueryAsync(connection, null, "SELECT document FROM scans WHERE status IN ('queued', 'running') ORDER BY created_at, id",
            r => JsonSerializer.Deserialize<Scan>(r.GetString(0), Json)!, ct);
    }
}
