using ConsentService.Infrastructure;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ConsentService.Storage.Mongo;

/// <summary>One query the store sends: the collection, the filter and the sort (none when null).</summary>
public sealed record MongoQuery(string Collection, FilterDefinition<BsonDocument> Filter, SortDefinition<BsonDocument>? Sort = null);

/// <summary>
/// The collections (DESIGN §4), their indexes, and every query the store sends. Queries are built
/// here and only here, so a test can check each against the indexes without a server.
/// </summary>
public static partial class MongoSchema
{
    public const string Sites = "sites";
    public const string ApiKeys = "apiKeys";
    public const string Policies = "policies";
    public const string Consents = "consents";
    /// <summary>One document per subject: its key (erasure destroys it), its chain head and its current record.</summary>
    public const string CurrentConsents = "currentConsents";
    public const string AuditEvents = "auditEvents";
    /// <summary>One document per site: <c>size</c>, the last ledger position handed out, and <c>hash</c>, the hash of its record.</summary>
    public const string Ledgers = "ledgers";
    public const string Checkpoints = "checkpoints";
    /// <summary>The deployment's public signing keys, <c>_id</c> = kid; <c>active: true</c> only on the one that signs now.</summary>
    public const string SigningKeys = "signingKeys";
    /// <summary>Deployment-wide secrets by name (<c>_id</c>), e.g. the one cache keys are derived with.</summary>
    public const string DeploymentSecrets = "deploymentSecrets";
    /// <summary>Tracker scans, <c>_id</c> = scan id; the scan itself (report included) as JSON in <c>document</c>.</summary>
    public const string Scans = "scans";

    private static readonly FilterDefinitionBuilder<BsonDocument> F = Builders<BsonDocument>.Filter;
    private static readonly SortDefinitionBuilder<BsonDocument> S = Builders<BsonDocument>.Sort;
    private static readonly IndexKeysDefinitionBuilder<BsonDocument> K = Builders<BsonDocument>.IndexKeys;

    /// <summary>
    /// Created at startup; creating an index that exists is a no-op. Shard key for a sharded cluster:
    /// <c>{siteId: 1, subjectId: "hashed"}</c> on consents and currentConsents (a subject's chain stays on one shard).
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<CreateIndexModel<BsonDocument>>> Indexes { get; } =
        new Dictionary<string, IReadOnlyList<CreateIndexModel<BsonDocument>>>
        {
            [Sites] = [],
            [ApiKeys] =
            [
                Index(K.Ascending("keyHash"), "ux_keyHash", unique: true),
                Index(K.Ascending("siteId").Ascending("createdAt").Ascending("_id"), "ix_site_created"),
            ],
            [Policies] = [Index(K.Ascending("siteId").Ascending("version"), "ux_site_version", unique: true)],
            [Consents] =
            [
                // The sequence race is settled here: two writers of one subject cannot both insert sequence n.
                // Partial, so records whose subject id was erased (crypto-shredding) leave the index.
                Index(K.Ascending("siteId").Ascending("subjectId").Ascending("sequence"), "ux_site_subject_sequence", unique: true,
                    partial: F.Exists("subjectId")),
                Index(K.Ascending("siteId").Ascending("subjectCommitment").Ascending("sequence"), "ux_site_commitment_sequence", unique: true),
                // Partial rather than sparse: a sparse compound index still holds every record (siteId is always there).
                Index(K.Ascending("siteId").Ascending("idempotencyKey"), "ux_site_idempotencyKey", unique: true,
                    partial: F.Exists("idempotencyKey")),
                Index(K.Ascending("siteId").Ascending("recordedAt").Ascending("_id"), "ix_site_recorded"),
                Index(K.Ascending("siteId").Ascending("position"), "ux_site_position", unique: true),
            ],
            [CurrentConsents] =
            [
                Index(K.Ascending("siteId").Ascending("subjectId"), "ux_site_subject", unique: true),
                Index(K.Ascending("siteId").Ascending("record.recordedAt"), "ix_site_last_recorded"),
            ],
            [Ledgers] = [],
            [DeploymentSecrets] = [],
            [IdentitySecrets] = IdentitySecretIndexes(),
            [SubjectLinks] = SubjectLinkIndexes(),
            [Checkpoints] = [Index(K.Ascending("siteId").Ascending("treeSize"), "ux_site_treeSize", unique: true)],
            [SigningKeys] =
            [
                // At most one active key: a second instance with another key cannot register itself beside the first.
                Index(K.Ascending("active"), "ux_active", unique: true, partial: F.Eq("active", true)),
                Index(K.Ascending("activatedAt").Ascending("_id"), "ix_activatedAt"),
            ],
            [Scans] =
            [
                Index(K.Ascending("siteId").Descending("createdAt").Descending("_id"), "ix_site_created"),
                Index(K.Ascending("status").Ascending("createdAt").Ascending("_id"), "ix_status_created"),
            ],
            [AuditEvents] =
            [
                Index(K.Ascending("siteId").Ascending("at").Ascending("_id"), "ix_site_at"),
                Index(K.Ascending("siteId").Ascending("requestId"), "ix_site_requestId"),
            ],
        };

    public static MongoQuery SiteById(string siteId) => new(Sites, F.Eq("_id", siteId));

    public static MongoQuery AllSites() => new(Sites, F.Empty, S.Ascending("_id"));

    public static MongoQuery ApiKeysOfSite(string siteId) =>
        new(ApiKeys, F.Eq("siteId", siteId), S.Ascending("createdAt").Ascending("_id"));

    public static MongoQuery ApiKeyByHash(string keyHash) => new(ApiKeys, F.Eq("keyHash", keyHash));

    public static MongoQuery ApiKeyOfSite(string siteId, string keyId) => new(ApiKeys, F.Eq("_id", keyId) & F.Eq("siteId", siteId));

    public static MongoQuery UnrevokedApiKeyOfSite(string siteId, string keyId) =>
        new(ApiKeys, F.Eq("_id", keyId) & F.Eq("siteId", siteId) & F.Eq("revokedAt", BsonNull.Value));

    public static MongoQuery PoliciesOfSite(string siteId) => new(Policies, F.Eq("siteId", siteId), S.Ascending("version"));

    public static MongoQuery LatestPolicy(string siteId) => new(Policies, F.Eq("siteId", siteId), S.Descending("version"));

    public static MongoQuery ConsentByIdempotencyKey(string siteId, string idempotencyKey) =>
        new(Consents, F.Eq("siteId", siteId) & F.Eq("idempotencyKey", idempotencyKey));

    public static MongoQuery History(string siteId, string subjectId) =>
        new(Consents, F.Eq("siteId", siteId) & F.Eq("subjectId", subjectId), S.Ascending("sequence"));

    public static MongoQuery LatestConsentOfSubject(string siteId, string subjectId) =>
        new(Consents, F.Eq("siteId", siteId) & F.Eq("subjectId", subjectId), S.Descending("sequence"));

    /// <summary>The last record of the chain a subject's key commits to (the consent check's answer).</summary>
    public static MongoQuery LatestConsentOfChain(string siteId, string subjectCommitment) =>
        new(Consents, F.Eq("siteId", siteId) & F.Eq("subjectCommitment", subjectCommitment), S.Descending("sequence"));

    public static MongoQuery Subject(string siteId, string subjectId) =>
        new(CurrentConsents, F.Eq("siteId", siteId) & F.Eq("subjectId", subjectId));

    public static MongoQuery ConsentById(string siteId, string recordId) => new(Consents, F.Eq("_id", recordId) & F.Eq("siteId", siteId));

    /// <summary>A ledger query: the filter's conditions after a position, in ledger order.</summary>
    public static MongoQuery ConsentsAfter(string siteId, ConsentFilter filter, long afterPosition)
    {
        var conditions = new List<FilterDefinition<BsonDocument>> { F.Eq("siteId", siteId), F.Gt("position", afterPosition) };
        if (filter.SubjectId is { } subject) conditions.Add(F.Eq("subjectId", subject));
        if (filter.Method is { } method) conditions.Add(F.Eq("method", JsonDefaults.Name(method)));
        if (filter.PolicyVersion is { } version) conditions.Add(F.Eq("policyVersion", version));
        if (filter.From is { } from) conditions.Add(F.Gte("recordedAt", from.UtcDateTime));
        if (filter.To is { } to) conditions.Add(F.Lt("recordedAt", to.UtcDateTime));
        if (filter.Purpose is { } purpose)
        {
            conditions.Add(filter.Granted is { } granted ? F.Eq($"purposes.{purpose}", granted) : F.Exists($"purposes.{purpose}"));
        }
        return new(Consents, F.And(conditions), S.Ascending("position"));
    }

    public static MongoQuery Chains(string siteId) => new(Consents, F.Eq("siteId", siteId), S.Ascending("subjectCommitment").Ascending("sequence"));

    public static MongoQuery Ledger(string siteId) => new(Ledgers, F.Eq("_id", siteId));

    public static MongoQuery IdleSubjects(string siteId, DateTimeOffset cutoff) =>
        new(CurrentConsents, F.Eq("siteId", siteId) & F.Lt("record.recordedAt", cutoff.UtcDateTime));

    public static MongoQuery DeploymentSecret(string name) => new(DeploymentSecrets, F.Eq("_id", name));
    public static MongoQuery NewestConsent(string siteId) => new(Consents, F.Eq("siteId", siteId), S.Descending("recordedAt"));

    public static MongoQuery CheckpointsOfSite(string siteId) => new(Checkpoints, F.Eq("siteId", siteId), S.Ascending("treeSize"));

    public static MongoQuery AllSigningKeys() => new(SigningKeys, F.Empty, S.Ascending("activatedAt").Ascending("_id"));

    public static MongoQuery ActiveSigningKey() => new(SigningKeys, F.Eq("active", true));

    public static MongoQuery SigningKeyByKid(string kid) => new(SigningKeys, F.Eq("_id", kid));

    private static readonly string[] UnfinishedStatuses = ["queued", "running"];

    public static MongoQuery ScanOfSite(string siteId, string scanId) => new(Scans, F.Eq("_id", scanId) & F.Eq("siteId", siteId));

    public static MongoQuery ScansOfSite(string siteId) => new(Scans, F.Eq("siteId", siteId), S.Descending("createdAt").Descending("_id"));

    public static MongoQuery UnfinishedScans() =>
        new(Scans, F.In("status", UnfinishedStatuses), S.Ascending("status").Ascending("createdAt").Ascending("_id"));

    private static CreateIndexModel<BsonDocument> Index(
        IndexKeysDefinition<BsonDocument> keys, string name, bool unique = false, FilterDefinition<BsonDocument>? partial = null) =>
        new(keys, new CreateIndexOptions<BsonDocument> { Name = name, Unique = unique, PartialFilterExpression = partial });
}
