using System.Text.Json;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using MongoDB.Bson;
using MongoDB.Bson.IO;

namespace ConsentService.Storage.Mongo;

/// <summary>
/// How each stored type maps to BSON, written out by hand: field names are part of the schema (the
/// indexes and queries name them), enums are stored by their API names, absent values are left out
/// (the partial indexes rely on it), and timestamps are BSON dates (milliseconds, as the app keeps them).
/// </summary>
public static class MongoDocuments
{
    private static readonly JsonWriterSettings RelaxedJson = new() { OutputMode = JsonOutputMode.RelaxedExtendedJson };

    public static BsonDocument ToBson(Site site) => WithoutNulls(new BsonDocument
    {
        ["_id"] = site.Id,
        ["name"] = site.Name,
        ["allowedOrigins"] = new BsonArray(site.AllowedOrigins),
        ["defaultLocale"] = site.DefaultLocale,
        ["jurisdictionMode"] = JsonDefaults.Name(site.JurisdictionMode),
        ["consentMaxAgeDays"] = site.ConsentMaxAgeDays,
        ["refusalReaskDays"] = site.RefusalReaskDays,
        ["createdAt"] = Date(site.CreatedAt),
        ["updatedAt"] = Date(site.UpdatedAt),
        ["retentionDays"] = site.RetentionDays,
        ["auditRetentionDays"] = site.AuditRetentionDays,
        ["cookieDomain"] = Optional(site.CookieDomain),
    });

    public static Site ToSite(BsonDocument d) => new(
        d["_id"].AsString,
        d["name"].AsString,
        [.. d["allowedOrigins"].AsBsonArray.Select(o => o.AsString)],
        d["defaultLocale"].AsString,
        JsonDefaults.Parse<JurisdictionMode>(d["jurisdictionMode"].AsString),
        d["consentMaxAgeDays"].AsInt32,
        d["refusalReaskDays"].AsInt32,
        ToDate(d["createdAt"]),
        ToDate(d["updatedAt"]),
        d.GetValue("retentionDays", SiteRules.DefaultRetentionDays).AsInt32,
        d.GetValue("auditRetentionDays", SiteRules.DefaultAuditRetentionDays).AsInt32,
        OptionalString(d, "cookieDomain"));

    public static BsonDocument ToBson(ApiKey key) => WithoutNulls(new BsonDocument
    {
        ["_id"] = key.Id,
        ["siteId"] = key.SiteId,
        ["role"] = JsonDefaults.Name(key.Role),
        ["label"] = Optional(key.Label),
        ["hint"] = key.Hint,
        ["keyHash"] = key.KeyHash,
        ["createdAt"] = Date(key.CreatedAt),
        ["revokedAt"] = key.RevokedAt is { } revoked ? Date(revoked) : BsonNull.Value,
    });

    public static ApiKey ToApiKey(BsonDocument d) => new(
        d["_id"].AsString,
        d["siteId"].AsString,
        JsonDefaults.Parse<SiteRole>(d["role"].AsString),
        OptionalString(d, "label"),
        d["hint"].AsString,
        d["keyHash"].AsString,
        ToDate(d["createdAt"]),
        d.TryGetValue("revokedAt", out var revoked) && !revoked.IsBsonNull ? ToDate(revoked) : null);

    /// <summary>The content keeps the exact JSON shape it is hashed in, so <see cref="Policy.ContentHash"/> still matches after a round trip.</summary>
    public static BsonDocument ToBson(Policy policy) => new()
    {
        ["siteId"] = policy.SiteId,
        ["version"] = policy.Version,
        ["publishedAt"] = Date(policy.PublishedAt),
        ["contentHash"] = policy.ContentHash,
        ["material"] = policy.Material,
        ["content"] = BsonDocument.Parse(JsonSerializer.Serialize(policy.Content, JsonDefaults.Options)),
    };

    public static Policy ToPolicy(BsonDocument d) => new(
        d["siteId"].AsString,
        d["version"].AsInt32,
        ToDate(d["publishedAt"]),
        d["contentHash"].AsString,
        d["material"].AsBoolean,
        JsonSerializer.Deserialize<PolicyContent>(d["content"].AsBsonDocument.ToJson(RelaxedJson), JsonDefaults.Options)!);

    /// <summary>The field of a subject document (currentConsents) holding the SHA-256 of its write secret, absent until one is presented.</summary>
    public const string WriteSecretHashField = "writeSecretHash";

    public static BsonBinaryData ToBson(byte[] writeSecretHash) => new(writeSecretHash);

    /// <summary>The subject's stored write-secret hash, or null (none yet: recorded before write secrets, or only by a back end).</summary>
    public static byte[]? ToWriteSecretHash(BsonDocument subject) =>
        subject.TryGetValue(WriteSecretHashField, out var hash) && hash.IsBsonBinaryData ? hash.AsBsonBinaryData.Bytes : null;

    public static BsonDocument ToBson(ConsentRecord r) => WithoutNulls(new BsonDocument
    {
        ["_id"] = r.Id,
        ["siteId"] = r.SiteId,
        ["subjectId"] = Optional(r.SubjectId),
        ["subjectCommitment"] = r.SubjectCommitment,
        ["sequence"] = r.Sequence,
        ["position"] = r.Position,
        ["policyVersion"] = r.PolicyVersion,
        ["policyHash"] = r.PolicyHash,
        ["purposes"] = new BsonDocument(r.Purposes.Select(p => new BsonElement(p.Key, p.Value))),
        ["method"] = JsonDefaults.Name(r.Method),
        ["source"] = r.Source is { } s
            ? WithoutNulls(new BsonDocument
            {
                ["url"] = Optional(s.Url),
                ["locale"] = Optional(s.Locale),
                ["jurisdiction"] = s.Jurisdiction,
                ["userAgent"] = Optional(s.UserAgent),
                ["ipPrefix"] = Optional(s.IpPrefix),
            })
            : BsonNull.Value,
        ["sourceCommitment"] = Optional(r.SourceCommitment),
        ["recordedAt"] = Date(r.RecordedAt),
        ["idempotencyKey"] = Optional(r.IdempotencyKey),
        ["requestHash"] = Optional(r.RequestHash),
        ["prevHash"] = Optional(r.PrevHash),
        ["hash"] = r.Hash,
    });

    public static ConsentRecord ToConsentRecord(BsonDocument d) => new(
        d["_id"].AsString,
        d["siteId"].AsString,
        OptionalString(d, "subjectId"),
        d["subjectCommitment"].AsString,
        d["sequence"].ToInt64(),
        d["position"].ToInt64(),
        d["policyVersion"].AsInt32,
        d["policyHash"].AsString,
        d["purposes"].AsBsonDocument.ToDictionary(e => e.Name, e => e.Value.AsBoolean),
        JsonDefaults.Parse<ConsentMethod>(d["method"].AsString),
        d.TryGetValue("source", out var source) && source.IsBsonDocument
            ? new ConsentSource(
                OptionalString(source.AsBsonDocument, "url"),
                OptionalString(source.AsBsonDocument, "locale"),
                source["jurisdiction"].AsString,
                OptionalString(source.AsBsonDocument, "userAgent"),
                OptionalString(source.AsBsonDocument, "ipPrefix"))
            : null,
        OptionalString(d, "sourceCommitment"),
        ToDate(d["recordedAt"]),
        OptionalString(d, "idempotencyKey"),
        OptionalString(d, "requestHash"),
        OptionalString(d, "prevHash"),
        d["hash"].AsString);

    /// <summary>The chain head part of a <see cref="MongoSchema.CurrentConsents"/> document, for the record at <paramref name="position"/>.</summary>
    public static ChainHead ToChainHead(BsonDocument d, long position) => new(
        d["subjectKey"].AsByteArray,
        d["sequence"].ToInt64(),
        OptionalString(d, "hash"),
        position);

    /// <summary>The key and head a <see cref="MongoSchema.CurrentConsents"/> document holds, for verification.</summary>
    public static SubjectHead ToSubjectHead(BsonDocument d) => new(
        d["subjectKey"].AsByteArray,
        d["sequence"].ToInt64(),
        OptionalString(d, "hash"),
        d.TryGetValue("record", out var record) && record.IsBsonDocument ? OptionalString(record.AsBsonDocument, "_id") : null);

    /// <summary>A <see cref="MongoSchema.Ledgers"/> document (null when the site has no records yet).</summary>
    public static LedgerHead ToLedgerHead(BsonDocument? d) =>
        d is null ? new LedgerHead(0, null) : new LedgerHead(d["size"].ToInt64(), OptionalString(d, "hash"));

    public static BsonDocument ToBson(Checkpoint c) => new()
    {
        ["siteId"] = c.SiteId,
        ["treeSize"] = c.TreeSize,
        ["rootHash"] = c.RootHash,
        ["signedAt"] = Date(c.SignedAt),
        ["signature"] = c.Signature,
    };

    public static Checkpoint ToCheckpoint(BsonDocument d) => new(
        d["siteId"].AsString, d["treeSize"].ToInt64(), d["rootHash"].AsString, ToDate(d["signedAt"]), d["signature"].AsString);

    /// <summary>Only the public point: the private key has no field here.</summary>
    public static BsonDocument ToBson(SigningKey k) => WithoutNulls(new BsonDocument
    {
        ["_id"] = k.Kid,
        ["x"] = k.X,
        ["y"] = k.Y,
        ["activatedAt"] = Date(k.ActivatedAt),
        ["retiredAt"] = k.RetiredAt is { } retired ? Date(retired) : BsonNull.Value,
        ["compromisedAt"] = k.CompromisedAt is { } compromised ? Date(compromised) : BsonNull.Value,
        // Present only while active, so the unique partial index holds one document at most.
        ["active"] = k.IsActive ? BsonBoolean.True : BsonNull.Value,
    });

    public static SigningKey ToSigningKey(BsonDocument d) => new(
        d["_id"].AsString, d["x"].AsString, d["y"].AsString, ToDate(d["activatedAt"]),
        d.TryGetValue("retiredAt", out var retired) ? ToDate(retired) : null,
        d.TryGetValue("compromisedAt", out var compromised) ? ToDate(compromised) : null);

    private static BsonDocument WithoutNulls(BsonDocument document)
    {
        foreach (var name in document.Names.Where(n => document[n].IsBsonNull).ToList())
        {
            document.Remove(name);
        }
        return document;
    }

    private static BsonValue Optional(string? value) => value is null ? BsonNull.Value : new BsonString(value);

    private static BsonDateTime Date(DateTimeOffset at) => new(at.UtcDateTime);

    private static DateTimeOffset ToDate(BsonValue value) => new(value.ToUniversalTime(), TimeSpan.Zero);

    private static string? OptionalString(BsonDocument d, string name) =>
        d.TryGetValue(name, out var value) && !value.IsBsonNull ? value.AsString : null;
}
