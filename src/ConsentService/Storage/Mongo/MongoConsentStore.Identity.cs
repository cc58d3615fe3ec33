using ConsentService.Consents;
using ConsentService.Identity;
using MongoDB.Bson;
using MongoDB.Driver;
using Q = ConsentService.Storage.Mongo.MongoSchema;

namespace ConsentService.Storage.Mongo;

/// <summary>Identified users (issue 15 §1): identity secrets, and links from anonymous subjects to user ids.</summary>
public sealed partial class MongoConsentStore
{
    public Task AddIdentitySecretAsync(IdentitySecret secret, CancellationToken ct) =>
        Collection(Q.IdentitySecrets).InsertOneAsync(MongoIdentityDocuments.ToBson(secret), cancellationToken: ct);

    public async Task<IReadOnlyList<IdentitySecret>> ListIdentitySecretsAsync(string siteId, CancellationToken ct) =>
        [.. (await ListAsync(Q.IdentitySecretsOfSite(siteId), ct)).Select(MongoIdentityDocuments.ToIdentitySecret)];

    public async Task<bool> RevokeIdentitySecretAsync(string siteId, string secretId, DateTimeOffset revokedAt, CancellationToken ct)
    {
        var secret = Q.IdentitySecretOfSite(siteId, secretId);
        var unrevoked = secret.Filter & Builders<BsonDocument>.Filter.Eq("revokedAt", BsonNull.Value);
        var result = await Collection(secret.Collection).UpdateOneAsync(unrevoked,
            Builders<BsonDocument>.Update.Set("revokedAt", new BsonDateTime(revokedAt.UtcDateTime)), cancellationToken: ct);
        return result.MatchedCount > 0 || await FirstAsync(secret, ct) is not null;
    }

    public async Task<bool> LinkSubjectAsync(
        string siteId, string userId, string anonymousId, byte[] writeSecretHash, DateTimeOffset linkedAt, CancellationToken ct)
    {
        if (await FirstAsync(Q.Subject(siteId, anonymousId), ct) is not { } subject
            || MongoDocuments.ToWriteSecretHash(subject) is not { } stored || !SubjectSecrets.Matches(stored, writeSecretHash))
        {
            return false;
        }
        var link = Q.Link(siteId, anonymousId, userId);
        try
        {
            await Collection(link.Collection).UpdateOneAsync(link.Filter,
                Builders<BsonDocument>.Update.SetOnInsert("linkedAt", new BsonDateTime(linkedAt.UtcDateTime)), new UpdateOptions { IsUpsert = true }, ct);
        }
        catch (MongoWriteException e) when (IsDuplicateKey(e))
        {
            // Linked at the same moment by another request: the first link stands.
        }
        return true;
    }

    public async Task<IReadOnlyList<SubjectLink>> ListLinkedSubjectsAsync(string siteId, string userId, CancellationToken ct) =>
        [.. (await ListAsync(Q.LinksOfUser(siteId, userId), ct)).Select(MongoIdentityDocuments.ToSubjectLink)];

    /// <summary>Inside the erasure's transaction: the links that name the erased subject, on either side.</summary>
    private async Task DeleteLinksAsync(string siteId, string subjectId, IClientSessionHandle session, CancellationToken ct)
    {
        foreach (var links in new[] { Q.LinksOfUser(siteId, subjectId), Q.LinksOfSubject(siteId, subjectId) })
        {
            await Collection(links.Collection).DeleteManyAsync(session, links.Filter, cancellationToken: ct);
        }
    }
}

/// <summary>BSON forms of the identity documents.</summary>
public static class MongoIdentityDocuments
{
    public static BsonDocument ToBson(IdentitySecret s)
    {
        var document = new BsonDocument
        {
            ["_id"] = s.Id,
            ["siteId"] = s.SiteId,
            ["seed"] = new BsonBinaryData(s.Seed),
            ["hint"] = s.Hint,
            ["createdAt"] = new BsonDateTime(s.CreatedAt.UtcDateTime),
        };
        if (s.RevokedAt is { } revoked) document["revokedAt"] = new BsonDateTime(revoked.UtcDateTime);
        return document;
    }

    public static IdentitySecret ToIdentitySecret(BsonDocument d) => new(
        d["_id"].AsString,
        d["siteId"].AsString,
        d["seed"].AsByteArray,
        d["hint"].AsString,
        new DateTimeOffset(d["createdAt"].ToUniversalTime(), TimeSpan.Zero),
        d.TryGetValue("revokedAt", out var revoked) && !revoked.IsBsonNull ? new DateTimeOffset(revoked.ToUniversalTime(), TimeSpan.Zero) : null);

    public static SubjectLink ToSubjectLink(BsonDocument d) =>
        new(d["subjectId"].AsString, new DateTimeOffset(d["linkedAt"].ToUniversalTime(), TimeSpan.Zero));
}
