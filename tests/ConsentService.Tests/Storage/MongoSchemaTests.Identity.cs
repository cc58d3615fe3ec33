using ConsentService.Identity;
using ConsentService.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

/// <summary>Identified users' documents (issue 15 §1) without a server: BSON shapes and the link's uniqueness.</summary>
public sealed partial class MongoSchemaTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_identity_secret_round_trips_with_its_seed_as_binary_and_no_secret(bool revoked)
    {
        var secret = new IdentitySecret("cid_1", "site_1", [1, 2, 3, 4], "cis_…abcd", T0, revoked ? T0.AddHours(1) : null);
        var document = ThroughBytes(MongoIdentityDocuments.ToBson(secret));

        Assert.Equal(BsonType.Binary, document["seed"].BsonType);
        Assert.Equal(revoked, document.Contains("revokedAt")); // "revokedAt: null" in the revoke filter matches it missing
        Assert.Equal(["_id", "siteId", "seed", "hint", "createdAt", .. revoked ? new[] { "revokedAt" } : []], document.Names);
        var read = MongoIdentityDocuments.ToIdentitySecret(document);
        Assert.Equal(secret with { Seed = read.Seed }, read);
        Assert.Equal(secret.Seed, read.Seed);
    }

    [Fact]
    public void A_link_is_unique_per_anonymous_subject_and_user_and_reads_back()
    {
        var unique = MongoSchema.Indexes[MongoSchema.SubjectLinks].Single(i => i.Options.Unique == true);
        Assert.Equal("""{ "siteId" : 1, "subjectId" : 1, "userId" : 1 }""", unique.Keys.Render(Args).ToJson());
        var link = ThroughBytes(new BsonDocument { ["siteId"] = "s", ["subjectId"] = "sub_a", ["userId"] = "alice", ["linkedAt"] = new BsonDateTime(T0.UtcDateTime) });
        Assert.Equal(new SubjectLink("sub_a", T0), MongoIdentityDocuments.ToSubjectLink(link));
    }
}
