using MongoDB.Bson;
using MongoDB.Driver;

namespace ConsentService.Storage.Mongo;

/// <summary>Identified users (issue 15 §1): identity secrets and links from anonymous subjects to user ids.</summary>
public static partial class MongoSchema
{
    /// <summary>One document per identity secret, <c>_id</c> = its id: the seed it is derived from, never the secret.</summary>
    public const string IdentitySecrets = "identitySecrets";
    /// <summary>One document per link: <c>userId</c> (the site's user id) and <c>subjectId</c> (the anonymous one); erasure of either deletes it.</summary>
    public const string SubjectLinks = "subjectLinks";

    private static IReadOnlyList<CreateIndexModel<BsonDocument>> IdentitySecretIndexes() =>
        [Index(Builders<BsonDocument>.IndexKeys.Ascending("siteId").Ascending("createdAt").Ascending("_id"), "ix_site_created")];

    private static IReadOnlyList<CreateIndexModel<BsonDocument>> SubjectLinkIndexes() =>
    [
        Index(Builders<BsonDocument>.IndexKeys.Ascending("siteId").Ascending("userId").Ascending("linkedAt").Ascending("subjectId"), "ix_site_user_linked"),
        // One link per (user, anonymous subject): linking twice keeps the first.
        Index(Builders<BsonDocument>.IndexKeys.Ascending("siteId").Ascending("subjectId").Ascending("userId"), "ux_site_subject_user", unique: true),
    ];

    public static MongoQuery IdentitySecretsOfSite(string siteId) =>
        new(IdentitySecrets, Builders<BsonDocument>.Filter.Eq("siteId", siteId), Builders<BsonDocument>.Sort.Ascending("createdAt").Ascending("_id"));

    public static MongoQuery IdentitySecretOfSite(string siteId, string keyId) =>
        new(IdentitySecrets, Builders<BsonDocument>.Filter.Eq("_id", keyId) & Builders<BsonDocument>.Filter.Eq("siteId", siteId));

    public static MongoQuery LinksOfUser(string siteId, string subjectId) =>
        new(SubjectLinks, Builders<BsonDocument>.Filter.Eq("siteId", siteId) & Builders<BsonDocument>.Filter.Eq("userId", subjectId),
            Builders<BsonDocument>.Sort.Ascending("linkedAt").Ascending("subjectId"));

    public static MongoQuery LinksOfSubject(string siteId, string subjectId) =>
        new(SubjectLinks, Builders<BsonDocument>.Filter.Eq("siteId", siteId) & Builders<BsonDocument>.Filter.Eq("subjectId", subjectId));

    public static MongoQuery Link(string siteId, string subjectId, string userId) =>
        new(SubjectLinks, Builders<BsonDocument>.Filter.Eq("siteId", siteId) & Builders<BsonDocument>.Filter.Eq("subjectId", subjectId)
            & Builders<BsonDocument>.Filter.Eq("userId", userId));
}
