using System.Text.Json;
using ConsentService.Infrastructure;
using ConsentService.Scans;
using MongoDB.Bson;
using MongoDB.Driver;
using Q = ConsentService.Storage.Mongo.MongoSchema;

namespace ConsentService.Storage.Mongo;

/// <summary>Tracker scans: the scan as canonical JSON in <c>document</c>, beside the fields its queries filter on.</summary>
public sealed partial class MongoConsentStore
{
    public Task SaveScanAsync(Scan scan, CancellationToken ct)
    {
        var document = new BsonDocument
        {
            ["_id"] = scan.Id,
            ["siteId"] = scan.SiteId,
            ["status"] = JsonDefaults.Name(scan.Status),
            ["createdAt"] = new BsonDateTime(scan.CreatedAt.UtcDateTime),
            ["document"] = JsonSerializer.Serialize(scan, JsonDefaults.Options),
        };
        var query = Q.ScanOfSite(scan.SiteId, scan.Id);
        return Collection(query.Collection).ReplaceOneAsync(query.Filter, document, new ReplaceOptions { IsUpsert = true }, ct);
    }

    public async Task<Scan?> GetScanAsync(string siteId, string scanId, CancellationToken ct) =>
        await FirstAsync(Q.ScanOfSite(siteId, scanId), ct) is { } d ? ToScan(d) : null;

    public async Task<IReadOnlyList<Scan>> ListScansAsync(string siteId, int limit, CancellationToken ct) =>
        [.. (await Find(Q.ScansOfSite(siteId)).Limit(limit).ToListAsync(ct)).Select(ToScan)];

    public async Task<IReadOnlyList<Scan>> ListUnfinishedScansAsync(CancellationToken ct) =>
        [.. (await ListAsync(Q.UnfinishedScans(), ct)).Select(ToScan).OrderBy(s => s.CreatedAt)];

    private static Scan ToScan(BsonDocument d) => JsonSerializer.Deserialize<Scan>(d["document"].AsString, JsonDefaults.Options)!;
}
