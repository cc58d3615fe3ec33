using System.Reflection;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;
using ConsentService.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Serializers;
using MongoDB.Driver;

namespace ConsentService.Tests.Storage;

/// <summary>
/// What can be checked of the MongoDB adapter without a server: every stored type survives a trip
/// through BSON bytes, each query sends the BSON we expect, and an index serves each query.
/// </summary>
public sealed partial class MongoSchemaTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 30, 15, 123, TimeSpan.Zero);
    private static readonly RenderArgs<BsonDocument> Args = new(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry);

    private static BsonDocument ThroughBytes(BsonDocument document) => BsonSerializer.Deserialize<BsonDocument>(document.ToBson());

    [Fact]
    public void A_site_round_trips_through_bson()
    {
        var site = new Site("site_1", "Shop", ["https://shop.example", "https://www.shop.example"], "de-AT", JurisdictionMode.Ccpa, 395, 182, T0, T0.AddDays(1));
        var document = ThroughBytes(MongoDocuments.ToBson(site));

        Assert.Equal("site_1", document["_id"].AsString);
        Assert.Equal("ccpa", document["jurisdictionMode"].AsString);
        Assert.Equal(BsonType.DateTime, document["updatedAt"].BsonType);
        var read = MongoDocuments.ToSite(document);
        Assert.Equal(site, read with { AllowedOrigins = site.AllowedOrigins });
        Assert.Equal(site.AllowedOrigins, read.AllowedOrigins);
        Assert.False(document.Contains("cookieDomain"), "no cookie domain: the field is left out");
    }

    [Fact]
    public void A_site_cookie_domain_round_trips_through_bson()
    {
        var site = new Site("site_1", "Shop", ["https://shop.example.com"], "en", JurisdictionMode.Gdpr, 395, 182, T0, T0, CookieDomain: "example.com");
        var document = ThroughBytes(MongoDocuments.ToBson(site));

        Assert.Equal("example.com", document["cookieDomain"].AsString);
        Assert.Equal("example.com", MongoDocuments.ToSite(document).CookieDomain);
    }

    [Theory]
    [InlineData("legal team", true)]
    [InlineData(null, false)]
    public void An_api_key_round_trips_and_leaves_absent_fields_out(string? label, bool revoked)
    {
        var key = new ApiKey("key_1", "site_1", SiteRole.Legal, label, "csk_…abcd", "hash", T0, revoked ? T0.AddHours(1) : null);
        var document = ThroughBytes(MongoDocuments.ToBson(key));

        Assert.Equal("legal", document["role"].AsString);
        Assert.Equal(label is not null, document.Contains("label"));
        Assert.Equal(revoked, document.Contains("revokedAt")); // "revokedAt: null" in the filter matches it missing
        Assert.Equal(key, MongoDocuments.ToApiKey(document));
    }

    [Fact]
    public void A_policy_round_trips_with_its_content_hash_intact()
    {
        var policy = new Policy("site_1", 3, T0, PolicyCatalog.ContentHash(DefaultPolicy.Content), true, DefaultPolicy.Content);
        var read = MongoDocuments.ToPolicy(ThroughBytes(MongoDocuments.ToBson(policy)));

        Assert.Equal(policy with { Content = read.Content }, read);
        Assert.Equal(policy.ContentHash, PolicyCatalog.ContentHash(read.Content));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_consent_record_round_trips_and_still_hashes_the_same(bool full)
    {
        var key = new byte[32];
        var source = full ? new ConsentSource("https://shop.example/cart", "de-AT", "gdpr", "Firefox 140 (Linux)", "203.0.113.0/24") : null;
        var record = new ConsentRecord(
            Guid.CreateVersion7(T0).ToString(), "site_1", "sub_abc", ConsentChain.Commit(key, "sub_abc"), 7, 42, 2, "policy-hash",
            new Dictionary<string, bool> { ["necessary"] = true, ["analytics"] = full, ["model_improvement"] = false },
            full ? ConsentMethod.Custom : ConsentMethod.Gpc, source, ConsentChain.CommitSource(key, source), T0,
            full ? "retry-1" : null, full ? "request-hash" : null, full ? "prev" : null, "");
        record = record with { Hash = ConsentChain.Hash(record) };

        var document = ThroughBytes(MongoDocuments.ToBson(record));
        Assert.Equal(BsonType.Int64, document["sequence"].BsonType);
        Assert.Equal(full, document.Contains("idempotencyKey")); // the partial unique index only holds records that have one
        Assert.Equal(full, document.Contains("source"));

        var read = MongoDocuments.ToConsentRecord(document);
        Assert.Equal(record with { Purposes = read.Purposes }, read);
        Assert.Equal(record.Purposes, read.Purposes);
        Assert.Equal(record.Hash, ConsentChain.Hash(read));
    }

    /// <summary>
    /// Crypto-shredding on MongoDB: the subject's key lives only in its <c>currentConsents</c> document, which
    /// erasure deletes. No other stored type carries it, so no document of another collection (nor the
    /// oplog entry that wrote one) keeps a copy: a record, its copy inside the head, an audit event.
    /// </summary>
    [Fact]
    public void No_document_but_the_subject_head_carries_the_subjects_key()
    {
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var source = new ConsentSource("https://shop.example/", "de", "gdpr", "Firefox 140 (Linux)", "203.0.113.0/24");
        var record = new ConsentRecord("r1", "site_1", "sub_abc", ConsentChain.Commit(key, "sub_abc"), 1, 1, 1, "ph",
            new Dictionary<string, bool> { ["analytics"] = true }, ConsentMethod.Custom, source, ConsentChain.CommitSource(key, source), T0,
            "idem", "rh", null, "h");
        var audit = new ConsentService.Audit.AuditEvent("019ab5c3-1f4b-7d2e-8c1a-0123456789ab", "site_1", T0, "key_1", "legal", "EraseSubject",
            new Dictionary<string, string> { ["subject"] = record.SubjectCommitment }, "0HN:1", 204, null, "DELETE", "/v1/sites/site_1/subjects/~subject");

        foreach (var document in new[] { MongoDocuments.ToBson(record), MongoAuditSchema.ToBson(audit) })
        {
            var bytes = ThroughBytes(document).ToBson();
            Assert.True(bytes.AsSpan().IndexOf(key) < 0, "A stored document other than the subject head holds the key");
            Assert.DoesNotContain("subjectKey", document.ToJson());
        }
        // The audit event names the subject by its commitment only.
        Assert.DoesNotContain("sub_abc", MongoAuditSchema.ToBson(audit).ToJson());
    }

    [Fact]
    public void A_chain_head_reads_its_key_sequence_and_hash_and_takes_the_next_position()
    {
        var head = MongoDocuments.ToChainHead(ThroughBytes(new BsonDocument
        {
            ["siteId"] = "site_1", ["subjectId"] = "sub_abc", ["subjectKey"] = new BsonBinaryData(new byte[32]), ["sequence"] = 3L, ["hash"] = "h3",
        }), position: 9);
        Assert.Equal((32, 3L, "h3", 9L), (head.SubjectKey.Length, head.Sequence, head.Hash, head.Position));
    }

    [Fact]
    public void A_subject_head_names_the_record_it_points_at_and_a_ledger_document_its_size_and_last_hash()
    {
        var head = MongoDocuments.ToSubjectHead(ThroughBytes(new BsonDocument
        {
            ["siteId"] = "site_1", ["subjectId"] = "sub_abc", ["subjectKey"] = new BsonBinaryData(new byte[32]), ["sequence"] = 3L, ["hash"] = "h3",
            ["record"] = new BsonDocument { ["_id"] = "r3", ["sequence"] = 3L },
        }));
        Assert.Equal((32, 3L, "h3", "r3"), (head.SubjectKey.Length, head.Sequence, head.Hash, head.RecordId));
        Assert.Equal(new LedgerHead(7, "h7"), MongoDocuments.ToLedgerHead(ThroughBytes(new BsonDocument { ["_id"] = "site_1", ["size"] = 7L, ["hash"] = "h7" })));
        Assert.Equal(new LedgerHead(0, null), MongoDocuments.ToLedgerHead(null));
    }

    [Fact]
    public void A_subjects_write_secret_hash_is_binary_and_absent_until_set()
    {
        var hash = System.Security.Cryptography.SHA256.HashData("a secret"u8);
        var subject = ThroughBytes(new BsonDocument
        {
            ["siteId"] = "site_1", ["subjectId"] = "sub_abc", ["subjectKey"] = new BsonBinaryData(new byte[32]), ["sequence"] = 3L, ["hash"] = "h3",
            [MongoDocuments.WriteSecretHashField] = MongoDocuments.ToBson(hash),
        });
        Assert.Equal(BsonType.Binary, subject[MongoDocuments.WriteSecretHashField].BsonType);
        Assert.Equal(hash, MongoDocuments.ToWriteSecretHash(subject));
        subject.Remove(MongoDocuments.WriteSecretHashField);
        Assert.Null(MongoDocuments.ToWriteSecretHash(subject));
    }

    public static TheoryData<string, string, string?> RenderedQueries => new()
    {
        { nameof(MongoSchema.SiteById), """{ "_id" : "s" }""", null },
        { nameof(MongoSchema.ApiKeysOfSite), """{ "siteId" : "s" }""", """{ "createdAt" : 1, "_id" : 1 }""" },
        { nameof(MongoSchema.ApiKeyByHash), """{ "keyHash" : "h" }""", null },
        { nameof(MongoSchema.ApiKeyOfSite), """{ "_id" : "k", "siteId" : "s" }""", null },
        { nameof(MongoSchema.UnrevokedApiKeyOfSite), """{ "_id" : "k", "siteId" : "s", "revokedAt" : null }""", null },
        { nameof(MongoSchema.PoliciesOfSite), """{ "siteId" : "s" }""", """{ "version" : 1 }""" },
        { nameof(MongoSchema.LatestPolicy), """{ "siteId" : "s" }""", """{ "version" : -1 }""" },
        { nameof(MongoSchema.ConsentByIdempotencyKey), """{ "siteId" : "s", "idempotencyKey" : "i" }""", null },
        { nameof(MongoSchema.History), """{ "siteId" : "s", "subjectId" : "u" }""", """{ "sequence" : 1 }""" },
        { nameof(MongoSchema.LatestConsentOfSubject), """{ "siteId" : "s", "subjectId" : "u" }""", """{ "sequence" : -1 }""" },
        { nameof(MongoSchema.LatestConsentOfChain), """{ "siteId" : "s", "subjectCommitment" : "c" }""", """{ "sequence" : -1 }""" },
        { nameof(MongoSchema.Subject), """{ "siteId" : "s", "subjectId" : "u" }""", null },
        { nameof(MongoSchema.AllSites), "{ }", """{ "_id" : 1 }""" },
        { nameof(MongoSchema.ConsentById), """{ "_id" : "r", "siteId" : "s" }""", null },
        { nameof(MongoSchema.ConsentsAfter), """{ "siteId" : "s", "position" : { "$gt" : 5 } }""", """{ "position" : 1 }""" },
        { nameof(MongoSchema.Chains), """{ "siteId" : "s" }""", """{ "subjectCommitment" : 1, "sequence" : 1 }""" },
        { nameof(MongoSchema.Ledger), """{ "_id" : "s" }""", null },
        { nameof(MongoSchema.IdleSubjects), """{ "siteId" : "s", "record.recordedAt" : { "$lt" : { "$date" : "2026-11-25T09:30:15.123Z" } } }""", null },
        { nameof(MongoSchema.DeploymentSecret), """{ "_id" : "n" }""", null },
        { nameof(MongoSchema.CheckpointsOfSite), """{ "siteId" : "s" }""", """{ "treeSize" : 1 }""" },
        { nameof(MongoSchema.AllSigningKeys), "{ }", """{ "activatedAt" : 1, "_id" : 1 }""" },
        { nameof(MongoSchema.ActiveSigningKey), """{ "active" : true }""", null },
        { nameof(MongoSchema.SigningKeyByKid), """{ "_id" : "k" }""", null },
        { nameof(MongoSchema.NewestConsent), """{ "siteId" : "s" }""", """{ "recordedAt" : -1 }""" },
        { nameof(MongoSchema.IdentitySecretsOfSite), """{ "siteId" : "s" }""", """{ "createdAt" : 1, "_id" : 1 }""" },
        { nameof(MongoSchema.IdentitySecretOfSite), """{ "_id" : "k", "siteId" : "s" }""", null },
        { nameof(MongoSchema.LinksOfUser), """{ "siteId" : "s", "userId" : "u" }""", """{ "linkedAt" : 1, "subjectId" : 1 }""" },
        { nameof(MongoSchema.LinksOfSubject), """{ "siteId" : "s", "subjectId" : "u" }""", null },
        { nameof(MongoSchema.Link), """{ "siteId" : "s", "subjectId" : "u", "userId" : "a" }""", null },
        { nameof(MongoSchema.ScanOfSite), """{ "_id" : "x", "siteId" : "s" }""", null },
        { nameof(MongoSchema.ScansOfSite), """{ "siteId" : "s" }""", """{ "createdAt" : -1, "_id" : -1 }""" },
        { nameof(MongoSchema.UnfinishedScans), """{ "status" : { "$in" : ["queued", "running"] } }""", """{ "status" : 1, "createdAt" : 1, "_id" : 1 }""" },
    };

    [Theory]
    [MemberData(nameof(RenderedQueries))]
    public void Each_query_sends_the_expected_filter_and_sort(string name, string filter, string? sort)
    {
        var query = Invoke(name);
        Assert.Equal(filter, query.Filter.Render(Args).ToJson());
        Assert.Equal(sort, query.Sort?.Render(Args).ToJson());
    }

    [Fact]
    public void The_table_above_lists_every_query()
    {
        var names = QueryFactories().Select(m => m.Name).Order();
        Assert.Equal(names, RenderedQueries.Select(row => (string)row[0]).Order());
    }

    [Fact]
    public void An_index_serves_each_query_filter_and_sort()
    {
        foreach (var method in QueryFactories())
        {
            var query = Invoke(method.Name);
            var filter = query.Filter.Render(Args);
            var equalities = filter.Elements.Where(e => !IsOperator(e.Value)).Select(e => e.Name).ToHashSet();
            var sort = query.Sort?.Render(Args).Elements.Select(e => (e.Name, e.Value.ToInt32())).ToList() ?? [];
            if (equalities.Contains("_id") || (equalities.Count == 0 && sort.SequenceEqual([("_id", 1)])))
            {
                continue; // the collection's own _id index
            }
            var served = MongoSchema.Indexes[query.Collection].Any(index =>
            {
                var keys = index.Keys.Render(Args).Elements.Select(e => (e.Name, e.Value.ToInt32())).ToList();
                if (keys.Count < equalities.Count + sort.Count || !keys.Take(equalities.Count).Select(k => k.Name).ToHashSet().SetEquals(equalities))
                {
                    return false;
                }
                var next = keys.Skip(equalities.Count).Take(sort.Count).ToList();
                var sameWay = next.Zip(sort).All(p => p.First.Name == p.Second.Name && p.First.Item2 == p.Second.Item2);
                var reversed = next.Zip(sort).All(p => p.First.Name == p.Second.Name && p.First.Item2 == -p.Second.Item2);
                return sameWay || reversed;
            });
            Assert.True(served, $"No index on {query.Collection} serves {method.Name}: filter {filter}, sort {query.Sort?.Render(Args)}");
        }
    }

    [Fact]
    public void The_unique_indexes_settle_races_and_leave_out_erased_and_keyless_records()
    {
        var consents = MongoSchema.Indexes[MongoSchema.Consents].ToDictionary(i => i.Options.Name);
        var subjectSequence = consents["ux_site_subject_sequence"];
        Assert.True(subjectSequence.Options.Unique);
        Assert.Equal("""{ "siteId" : 1, "subjectId" : 1, "sequence" : 1 }""", subjectSequence.Keys.Render(Args).ToJson());
        Assert.Equal("""{ "subjectId" : { "$exists" : true } }""", Partial(subjectSequence));
        Assert.Equal("""{ "idempotencyKey" : { "$exists" : true } }""", Partial(consents["ux_site_idempotencyKey"]));
        Assert.True(consents["ux_site_idempotencyKey"].Options.Unique);
        Assert.True(MongoSchema.Indexes[MongoSchema.CurrentConsents].Single(i => i.Options.Name == "ux_site_subject").Options.Unique);
        Assert.True(consents["ux_site_position"].Options.Unique);
        Assert.True(MongoSchema.Indexes[MongoSchema.Policies].Single().Options.Unique);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void A_signing_key_round_trips_with_only_its_public_point_and_the_active_flag_while_it_signs(bool retired, bool compromised)
    {
        var key = new SigningKey("kid_1", "x-coordinate", "y-coordinate", T0, retired ? T0.AddDays(30) : null, compromised ? T0.AddDays(10) : null);
        var document = ThroughBytes(MongoDocuments.ToBson(key));

        Assert.Equal(["_id", "x", "y", "activatedAt", .. retired ? new[] { "retiredAt" } : [], .. compromised ? new[] { "compromisedAt" } : [],
            .. retired ? Array.Empty<string>() : ["active"]], document.Names);
        Assert.Equal(!retired, document.Contains("active")); // the unique partial index holds the active key only
        Assert.Equal(key, MongoDocuments.ToSigningKey(document));
    }

    [Fact]
    public void At_most_one_signing_key_is_active_settled_by_a_unique_partial_index()
    {
        var active = MongoSchema.Indexes[MongoSchema.SigningKeys].Single(i => i.Options.Name == "ux_active");
        Assert.True(active.Options.Unique);
        Assert.Equal("""{ "active" : 1 }""", active.Keys.Render(Args).ToJson());
        Assert.Equal("""{ "active" : true }""", Partial(active));
    }

    private static string Partial(CreateIndexModel<BsonDocument> index) =>
        ((CreateIndexOptions<BsonDocument>)index.Options).PartialFilterExpression.Render(Args).ToJson();

    private static bool IsOperator(BsonValue value) =>
        value is BsonDocument { ElementCount: > 0 } d && d.GetElement(0).Name.StartsWith('$');

    private static IEnumerable<MethodInfo> QueryFactories() =>
        typeof(MongoSchema).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(MongoQuery));

    [Fact]
    public void A_ledger_query_sends_every_filter_and_the_index_on_position_serves_it()
    {
        var query = MongoSchema.ConsentsAfter("s", new ConsentFilter("u", "analytics", true, ConsentMethod.Custom, 2, T0, T0.AddDays(1)), 0);
        Assert.Equal(
            """{ "siteId" : "s", "position" : { "$gt" : 0 }, "subjectId" : "u", "method" : "custom", "policyVersion" : 2, "recordedAt" : { "$gte" : { "$date" : "2026-11-25T09:30:15.123Z" }, "$lt" : { "$date" : "2026-11-26T09:30:15.123Z" } }, "purposes.analytics" : true }""",
            query.Filter.Render(Args).ToJson());
        Assert.Equal("""{ "siteId" : "s", "position" : { "$gt" : 0 }, "purposes.analytics" : { "$exists" : true } }""",
            MongoSchema.ConsentsAfter("s", new ConsentFilter(Purpose: "analytics"), 0).Filter.Render(Args).ToJson());
    }

    /// <summary>Calls a query factory with sample arguments: site "s", subject "u", key "k", hash "h", idempotency key "i", record "r", number 5.</summary>
    private static MongoQuery Invoke(string name)
    {
        var method = typeof(MongoSchema).GetMethod(name)!;
        var args = method.GetParameters().Select(object (p) => p.ParameterType == typeof(long) ? 5L
            : p.ParameterType == typeof(DateTimeOffset) ? T0
            : p.ParameterType == typeof(ConsentFilter) ? new ConsentFilter()
            : p.Name switch
        {
            "siteId" => "s",
            "recordId" => "r",
            "subjectId" => "u",
            "keyId" or "kid" => "k",
            "keyHash" => "h",
            "idempotencyKey" => "i",
            "subjectCommitment" => "c",
            "name" => "n",
            "userId" => "a",
            "scanId" => "x",
            _ => throw new InvalidOperationException($"No sample for parameter {p.Name}"),
        }).ToArray();
        return (MongoQuery)method.Invoke(null, args)!;
    }
}
