using System.Security.Cryptography;
using ConsentService.Consents;
using ConsentService.Policies;
using ConsentService.Sites;
using MongoDB.Bson;
using MongoDB.Driver;
using static ConsentService.Storage.Mongo.MongoDocuments;
using Q = ConsentService.Storage.Mongo.MongoSchema;

namespace ConsentService.Storage.Mongo;

/// <summary>
/// The production store. Writes are acknowledged by a majority (set on the database) and retried by
/// the driver on failover. No multi-document transactions: a subject's chain is extended with an
/// optimistic insert that the unique <c>{siteId, subjectId, sequence}</c> index settles, so writes for
/// different subjects never wait on each other, also across shards.
/// </summary>
public sealed class MongoConsentStore(IMongoDatabase database) : IConsentStore
{
    /// <summary>More than any real contention on one subject; reaching it means something is broken.</summary>
    private const int MaxAttempts = 200;

    public async Task InitializeAsync(CancellationToken ct)
    {
        foreach (var (collection, indexes) in Q.Indexes)
        {
            if (indexes.Count > 0)
            {
                await Collection(collection).Indexes.CreateManyAsync(indexes, ct);
            }
        }
    }

    public async Task<bool> PingAsync(CancellationToken ct)
    {
        var reply = await database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: ct);
        return reply.GetValue("ok", 0).ToDouble() >= 1;
    }

    // ---- sites -------------------------------------------------------------------------------

    public Task CreateSiteAsync(Site site, CancellationToken ct) =>
        Collection(Q.Sites).InsertOneAsync(ToBson(site), cancellationToken: ct);

    public async Task<Site?> GetSiteAsync(string siteId, CancellationToken ct) =>
        await FirstAsync(Q.SiteById(siteId), ct) is { } d ? ToSite(d) : null;

    public Task UpdateSiteAsync(Site site, CancellationToken ct)
    {
        var query = Q.SiteById(site.Id);
        return Collection(query.Collection).ReplaceOneAsync(query.Filter, ToBson(site), cancellationToken: ct);
    }

    // ---- API keys ----------------------------------------------------------------------------

    public Task AddApiKeyAsync(ApiKey key, CancellationToken ct) =>
        Collection(Q.ApiKeys).InsertOneAsync(ToBson(key), cancellationToken: ct);

    public async Task<IReadOnlyList<ApiKey>> ListApiKeysAsync(string siteId, CancellationToken ct) =>
        [.. (await ListAsync(Q.ApiKeysOfSite(siteId), ct)).Select(ToApiKey)];

    public async Task<ApiKey?> FindApiKeyByHashAsync(string keyHash, CancellationToken ct) =>
        await FirstAsync(Q.ApiKeyByHash(keyHash), ct) is { } d ? ToApiKey(d) : null;

    public async Task<bool> RevokeApiKeyAsync(string siteId, string keyId, DateTimeOffset revokedAt, CancellationToken ct)
    {
        var unrevoked = Q.UnrevokedApiKeyOfSite(siteId, keyId);
        var update = Builders<BsonDocument>.Update.Set("revokedAt", new BsonDateTime(revokedAt.UtcDateTime));
        var result = await Collection(unrevoked.Collection).UpdateOneAsync(unrevoked.Filter, update, cancellationToken: ct);
        return result.MatchedCount > 0 || await FirstAsync(Q.ApiKeyOfSite(siteId, keyId), ct) is not null;
    }

    // ---- policies ----------------------------------------------------------------------------

    public async Task<Policy> PublishPolicyAsync(string siteId, Func<Policy?, Policy> build, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var latest = await FirstAsync(Q.LatestPolicy(siteId), ct) is { } d ? ToPolicy(d) : null;
            var policy = build(latest);
            try
            {
                await Collection(Q.Policies).InsertOneAsync(ToBson(policy), cancellationToken: ct);
                return policy;
            }
            catch (MongoWriteException e) when (IsDuplicateKey(e) && attempt < MaxAttempts)
            {
                // Another publisher took this version number: build again on top of theirs.
            }
        }
    }

    public async Task<IReadOnlyList<Policy>> ListPoliciesAsync(string siteId, CancellationToken ct) =>
        [.. (await ListAsync(Q.PoliciesOfSite(siteId), ct)).Select(ToPolicy)];

    // ---- consent ledger ----------------------------------------------------------------------

    public async Task<AppendResult> AppendConsentAsync(
        string siteId, string subjectId, string? idempotencyKey, Func<ChainHead, ConsentRecord> build, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (idempotencyKey is not null && await FirstAsync(Q.ConsentByIdempotencyKey(siteId, idempotencyKey), ct) is { } earlier)
            {
                return new AppendResult(ToConsentRecord(earlier), Created: false);
            }

            var head = await SubjectHeadAsync(siteId, subjectId, ct);
            var record = build(head);
            try
            {
                await Collection(Q.Consents).InsertOneAsync(ToBson(record), cancellationToken: ct);
            }
            catch (MongoWriteException e) when (IsDuplicateKey(e) && attempt < MaxAttempts)
            {
                // Lost the race for this sequence number (or for the idempotency key, which the next
                // round answers), or the head lags a write that crashed before moving it: catch up, retry.
                if (await FirstAsync(Q.LatestConsentOfSubject(siteId, subjectId), ct) is { } latest)
                {
                    await AdvanceHeadAsync(ToConsentRecord(latest), ct);
                }
                continue;
            }
            await AdvanceHeadAsync(record, ct);
            return new AppendResult(record, Created: true);
        }
    }

    /// <summary>The subject's chain head; a new subject gets its random key here, once, whoever asks first.</summary>
    private async Task<ChainHead> SubjectHeadAsync(string siteId, string subjectId, CancellationToken ct)
    {
        var subject = Q.Subject(siteId, subjectId);
        var update = Builders<BsonDocument>.Update
            .SetOnInsert("subjectKey", new BsonBinaryData(RandomNumberGenerator.GetBytes(32)))
            .SetOnInsert("sequence", 0L);
        var options = new FindOneAndUpdateOptions<BsonDocument> { IsUpsert = true, ReturnDocument = ReturnDocument.After };
        try
        {
            return ToChainHead(await Collection(subject.Collection).FindOneAndUpdateAsync(subject.Filter, update, options, ct));
        }
        catch (MongoCommandException e) when (e.Code == DuplicateKeyCode)
        {
            // Two first writes raced to create the subject; the other one's document is there now.
            return ToChainHead((await FirstAsync(subject, ct))!);
        }
    }

    /// <summary>Moves the head (and the current record checks read) forward to <paramref name="record"/>; never back.</summary>
    private async Task AdvanceHeadAsync(ConsentRecord record, CancellationToken ct)
    {
        var behind = Q.SubjectBehind(record.SiteId, record.SubjectId, record.Sequence);
        var update = Builders<BsonDocument>.Update
            .Set("sequence", record.Sequence)
            .Set("hash", record.Hash)
            .Set("record", ToBson(record));
        await Collection(behind.Collection).UpdateOneAsync(behind.Filter, update, cancellationToken: ct);
    }

    public async Task<ConsentRecord?> GetCurrentConsentAsync(string siteId, string subjectId, CancellationToken ct) =>
        await FirstAsync(Q.Subject(siteId, subjectId), ct) is { } d && d.TryGetValue("record", out var record)
            ? ToConsentRecord(record.AsBsonDocument)
            : null;

    public async Task<IReadOnlyList<ConsentRecord>> GetHistoryAsync(string siteId, string subjectId, CancellationToken ct) =>
        [.. (await ListAsync(Q.History(siteId, subjectId), ct)).Select(ToConsentRecord)];

    // ---- plumbing ----------------------------------------------------------------------------

    private const int DuplicateKeyCode = 11000;

    private static bool IsDuplicateKey(MongoWriteException e) => e.WriteError?.Category == ServerErrorCategory.DuplicateKey;

    private IMongoCollection<BsonDocument> Collection(string name) => database.GetCollection<BsonDocument>(name);

    private IFindFluent<BsonDocument, BsonDocument> Find(MongoQuery query)
    {
        var find = Collection(query.Collection).Find(query.Filter);
        return query.Sort is null ? find : find.Sort(query.Sort);
    }

    private async Task<BsonDocument?> FirstAsync(MongoQuery query, CancellationToken ct) =>
        await Find(query).Limit(1).FirstOrDefaultAsync(ct);

    private async Task<List<BsonDocument>> ListAsync(MongoQuery query, CancellationToken ct) =>
        await Find(query).ToListAsync(ct);
}
