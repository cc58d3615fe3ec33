using System.Runtime.CompilerServices;
using ConsentService.Consents;
using ConsentService.Policies;
using ConsentService.Sites;
using MongoDB.Bson;
using MongoDB.Driver;
using static ConsentService.Storage.Mongo.MongoDocuments;
using Q = ConsentService.Storage.Mongo.MongoSchema;

namespace ConsentService.Storage.Mongo;

/// <summary>
/// The production store (a replica set: it uses transactions). Writes are acknowledged by a majority
/// (set on the database) and retried by the driver on failover. An append is one short transaction
/// (position, record, subject head); the unique <c>{siteId, subjectId, sequence}</c> and
/// <c>{siteId, position}</c> indexes guard the ledger's shape whatever happens.
/// </summary>
public sealed partial class MongoConsentStore(IMongoDatabase database) : IConsentStore
{
    /// <summary>More than any real contention; reaching it means something is broken.</summary>
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
        await CreateWebhookIndexesAsync(ct);
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
                // One transaction with its outbox message: a publication and its webhook commit together.
                using var session = await database.Client.StartSessionAsync(cancellationToken: ct);
                await session.WithTransactionAsync(async (s, c) =>
                {
                    await Collection(Q.Policies).InsertOneAsync(s, ToBson(policy), cancellationToken: c);
                    await EnqueueWebhookAsync(s, Webhooks.WebhookEvents.Published(policy), c);
                    return true;
                }, cancellationToken: ct);
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
        string siteId, string subjectId, string? idempotencyKey, byte[]? writeSecretHash, byte[] newSubjectKey,
        Func<ChainHead, ConsentRecord> build, CancellationToken ct)
    {
        using var session = await database.Client.StartSessionAsync(cancellationToken: ct);
        try
        {
            // The driver retries the whole callback on a transient error such as a write conflict.
            return await session.WithTransactionAsync(async (s, c) =>
            {
                var subject = await FirstAsync(Q.Subject(siteId, subjectId), c, s);
                if (writeSecretHash is not null && subject is not null && ToWriteSecretHash(subject) is { } stored
                    && !SubjectSecrets.Matches(stored, writeSecretHash))
                {
                    throw new SubjectSecretMismatchException();
                }
                if (idempotencyKey is not null && await FirstAsync(Q.ConsentByIdempotencyKey(siteId, idempotencyKey), c, s) is { } earlier)
                {
                    return new AppendResult(ToConsentRecord(earlier), Created: false);
                }
                // Every append of a site increments its ledger document, so two appends of one site
                // conflict and one retries after the other commits: positions follow commit order and a
                // subject's sequence is never taken twice. Appends of different sites never wait.
                // The subject was read before it in this transaction: a concurrent append of the same subject
                // conflicts on the ledger document or the subject document, and this callback runs again.
                var position = await NextPositionAsync(siteId, s, c);
                var head = subject is null
                    ? new ChainHead(newSubjectKey, 0, null, position)
                    : await ChainEndAsync(siteId, subjectId, ToChainHead(subject, position), s, c);
                var record = build(head);
                await Collection(Q.Consents).InsertOneAsync(s, ToBson(record), cancellationToken: c);
                var update = Builders<BsonDocument>.Update
                    .SetOnInsert("subjectKey", new BsonBinaryData(head.SubjectKey))
                    .Set("sequence", record.Sequence)
                    .Set("hash", record.Hash)
                    .Set("record", ToBson(record));
                if (writeSecretHash is not null && (subject is null || ToWriteSecretHash(subject) is null))
                {
                    // The first anonymous write (or the first since write secrets exist) establishes the secret.
                    update = update.Set(WriteSecretHashField, ToBson(writeSecretHash));
                }
                var current = Q.Subject(siteId, subjectId);
                await Collection(current.Collection).UpdateOneAsync(s, current.Filter, update, new UpdateOptions { IsUpsert = true }, c);
                var ledger = Q.Ledger(siteId);
                await Collection(ledger.Collection).UpdateOneAsync(s, ledger.Filter, Builders<BsonDocument>.Update.Set("hash", record.Hash), cancellationToken: c);
                await EnqueueWebhookAsync(s, Webhooks.WebhookEvents.Recorded(record), c);
                return new AppendResult(record, Created: true);
            }, cancellationToken: ct);
        }
        catch (MongoWriteException e) when (IsDuplicateKey(e) && idempotencyKey is not null)
        {
            // A concurrent request with the same idempotency key committed first: answer with its record.
            var earlier = await FirstAsync(Q.ConsentByIdempotencyKey(siteId, idempotencyKey), ct)
                ?? throw new InvalidOperationException("A duplicate key on append without an earlier record.", e);
            return new AppendResult(ToConsentRecord(earlier), Created: false);
        }
    }

    /// <summary>The chain's actual last record (by the key's commitment), not the head's copy, which an edit could have pointed back.</summary>
    private async Task<ChainHead> ChainEndAsync(string siteId, string subjectId, ChainHead stored, IClientSessionHandle session, CancellationToken ct)
    {
        var last = await FirstAsync(Q.LatestConsentOfChain(siteId, ConsentChain.Commit(stored.SubjectKey, subjectId)), ct, session);
        return last is null ? stored with { Sequence = 0, Hash = null } : stored with { Sequence = last["sequence"].ToInt64(), Hash = last["hash"].AsString };
    }

    private async Task<long> NextPositionAsync(string siteId, IClientSessionHandle session, CancellationToken ct)
    {
        var ledger = Q.Ledger(siteId);
        var options = new FindOneAndUpdateOptions<BsonDocument> { IsUpsert = true, ReturnDocument = ReturnDocument.After };
        var updated = await Collection(ledger.Collection).FindOneAndUpdateAsync(session, ledger.Filter,
            Builders<BsonDocument>.Update.Inc("size", 1L), options, ct);
        return updated["size"].ToInt64();
    }

    public async Task<ConsentRecord?> GetCurrentConsentAsync(string siteId, string subjectId, CancellationToken ct)
    {
        if (await FirstAsync(Q.Subject(siteId, subjectId), ct) is not { } subject)
        {
            return null;
        }
        // The chain's last record by the key's commitment, not the head's copy: an edited head cannot bring back an older answer.
        var commitment = ConsentChain.Commit(subject["subjectKey"].AsByteArray, subjectId);
        return await FirstAsync(Q.LatestConsentOfChain(siteId, commitment), ct) is { } d ? ToConsentRecord(d) : null;
    }

    public async Task<IReadOnlyList<ConsentRecord>> GetHistoryAsync(string siteId, string subjectId, CancellationToken ct) =>
        [.. (await ListAsync(Q.History(siteId, subjectId), ct)).Select(ToConsentRecord)];

    public async Task<ConsentRecord?> GetConsentAsync(string siteId, string recordId, CancellationToken ct) =>
        await FirstAsync(Q.ConsentById(siteId, recordId), ct) is { } d ? ToConsentRecord(d) : null;

    public IAsyncEnumerable<ConsentRecord> QueryConsentsAsync(string siteId, ConsentFilter filter, long afterPosition, CancellationToken ct) =>
        StreamAsync(Q.ConsentsAfter(siteId, filter, afterPosition), ToConsentRecord, ct);

    public async IAsyncEnumerable<ChainLink> ReadChainsAsync(string siteId, [EnumeratorCancellation] CancellationToken ct)
    {
        // One subject lookup per run of records naming the same subject (a chain, normally): memory stays flat.
        (string? Id, SubjectHead? Head) named = (null, null);
        await foreach (var record in StreamAsync(Q.Chains(siteId), ToConsentRecord, ct))
        {
            if (record.SubjectId is null)
            {
                yield return new ChainLink(record, null);
                continue;
            }
            if (named.Id != record.SubjectId)
            {
                named = (record.SubjectId, await FirstAsync(Q.Subject(siteId, record.SubjectId), ct) is { } d ? ToSubjectHead(d) : null);
            }
            yield return new ChainLink(record, named.Head);
        }
    }

    public async Task<LedgerHead> GetLedgerHeadAsync(string siteId, CancellationToken ct) =>
        ToLedgerHead(await FirstAsync(Q.Ledger(siteId), ct));

    public async Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct) =>
        [.. (await ListAsync(Q.AllSites(), ct)).Select(d => d["_id"].AsString)];

    public async Task<long?> EraseSubjectAsync(string siteId, string subjectId, CancellationToken ct)
    {
        using var session = await database.Client.StartSessionAsync(cancellationToken: ct);
        return await session.WithTransactionAsync(async (s, c) =>
        {
            var subject = Q.Subject(siteId, subjectId);
            var current = await Collection(subject.Collection).FindOneAndDeleteAsync(s, subject.Filter, cancellationToken: c);
            if (current is null)
            {
                return (long?)null;
            }
            var records = Q.History(siteId, subjectId);
            var shred = Builders<BsonDocument>.Update.Unset("subjectId").Unset("source").Unset("idempotencyKey").Unset("requestHash");
            await Collection(records.Collection).UpdateManyAsync(s, records.Filter, shred, cancellationToken: c);
            await DeleteLinksAsync(siteId, subjectId, s, c);
            await ShredWebhookMessagesAsync(s, siteId, subjectId, current["subjectKey"].AsByteArray, current["record"]["position"].ToInt64(), c);
            return current["record"]["position"].ToInt64();
        }, cancellationToken: ct);
    }

    public IAsyncEnumerable<string> SubjectsIdleSinceAsync(string siteId, DateTimeOffset cutoff, CancellationToken ct) =>
        StreamAsync(Q.IdleSubjects(siteId, cutoff), d => d["subjectId"].AsString, ct);

    public async Task<DateTimeOffset?> NewestRecordedAtAsync(string siteId, CancellationToken ct) =>
        await FirstAsync(Q.NewestConsent(siteId), ct) is { } newest ? new DateTimeOffset(newest["recordedAt"].ToUniversalTime(), TimeSpan.Zero) : null;

    public async Task<bool> AddCheckpointAsync(Checkpoint checkpoint, CancellationToken ct)
    {
        try
        {
            await Collection(Q.Checkpoints).InsertOneAsync(ToBson(checkpoint), cancellationToken: ct);
            return true;
        }
        catch (MongoWriteException e) when (IsDuplicateKey(e))
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(string siteId, CancellationToken ct) =>
        [.. (await ListAsync(Q.CheckpointsOfSite(siteId), ct)).Select(ToCheckpoint)];

    // ---- signing keys ------------------------------------------------------------------------

    public async Task<IReadOnlyList<SigningKey>> ListSigningKeysAsync(CancellationToken ct) =>
        [.. (await ListAsync(Q.AllSigningKeys(), ct)).Select(ToSigningKey)];

    public async Task<SigningKey?> ActivateSigningKeyAsync(SigningKey key, IReadOnlySet<string> retiring, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var session = await database.Client.StartSessionAsync(cancellationToken: ct);
            try
            {
                return await session.WithTransactionAsync(async (s, c) =>
                {
                    var active = await FirstAsync(Q.ActiveSigningKey(), c, s) is { } d ? ToSigningKey(d) : null;
                    if (active?.Kid == key.Kid
                        || await FirstAsync(Q.SigningKeyByKid(key.Kid), c, s) is not null // once retired, never again
                        || (active is not null && !retiring.Contains(active.Kid)))
                    {
                        return active;
                    }
                    if (active is not null)
                    {
                        var old = Q.SigningKeyByKid(active.Kid);
                        await Collection(old.Collection).UpdateOneAsync(s, old.Filter,
                            Builders<BsonDocument>.Update.Set("retiredAt", new BsonDateTime(key.ActivatedAt.UtcDateTime)).Unset("active"), cancellationToken: c);
                    }
                    var added = key with { RetiredAt = null, CompromisedAt = null };
                    await Collection(Q.SigningKeys).InsertOneAsync(s, ToBson(added), cancellationToken: c);
                    return added;
                }, cancellationToken: ct);
            }
            catch (MongoException e) when (IsDuplicateKey(e) && attempt < MaxAttempts)
            {
                // Another instance registered its key at the same moment (ux_active): read again, theirs is the active one now.
            }
        }
    }

    public async Task<bool> MarkSigningKeyCompromisedAsync(string kid, DateTimeOffset from, CancellationToken ct)
    {
        var query = Q.SigningKeyByKid(kid);
        var result = await Collection(query.Collection).UpdateOneAsync(query.Filter,
            Builders<BsonDocument>.Update.Set("compromisedAt", new BsonDateTime(from.UtcDateTime)), cancellationToken: ct);
        return result.MatchedCount > 0;
    }

    private static bool IsDuplicateKey(MongoException e) => e switch
    {
        MongoWriteException write => IsDuplicateKey(write),
        MongoCommandException command => command.Code == DuplicateKeyCode,
        _ => false,
    };

    public async Task<byte[]> GetOrAddSecretAsync(string name, byte[] candidate, CancellationToken ct)
    {
        var secret = Q.DeploymentSecret(name);
        try
        {
            // $setOnInsert: the first instance's candidate is kept; later ones change nothing.
            await Collection(secret.Collection).UpdateOneAsync(secret.Filter,
                Builders<BsonDocument>.Update.SetOnInsert("value", new BsonBinaryData(candidate)), new UpdateOptions { IsUpsert = true }, ct);
        }
        catch (MongoWriteException e) when (IsDuplicateKey(e))
        {
            // Two instances upserted at once; the other one's insert won, read it below.
        }
        return (await FirstAsync(secret, ct))!["value"].AsByteArray;
    }

    // ---- plumbing ----------------------------------------------------------------------------

    private const int DuplicateKeyCode = 11000;

    private static bool IsDuplicateKey(MongoWriteException e) => e.WriteError?.Category == ServerErrorCategory.DuplicateKey;

    private IMongoCollection<BsonDocument> Collection(string name) => database.GetCollection<BsonDocument>(name);

    private IFindFluent<BsonDocument, BsonDocument> Find(MongoQuery query, IClientSessionHandle? session = null)
    {
        var collection = Collection(query.Collection);
        var find = session is null ? collection.Find(query.Filter) : collection.Find(session, query.Filter);
        return query.Sort is null ? find : find.Sort(query.Sort);
    }

    private async Task<BsonDocument?> FirstAsync(MongoQuery query, CancellationToken ct, IClientSessionHandle? session = null) =>
        await Find(query, session).Limit(1).FirstOrDefaultAsync(ct);

    private async Task<List<BsonDocument>> ListAsync(MongoQuery query, CancellationToken ct) =>
        await Find(query).ToListAsync(ct);

    private async IAsyncEnumerable<T> StreamAsync<T>(MongoQuery query, Func<BsonDocument, T> map, [EnumeratorCancellation] CancellationToken ct)
    {
        using var cursor = await Find(query).ToCursorAsync(ct);
        while (await cursor.MoveNextAsync(ct))
        {
            foreach (var document in cursor.Current)
            {
                yield return map(document);
            }
        }
    }
}
