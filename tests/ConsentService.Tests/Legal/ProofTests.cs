using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Consents;
using ConsentService.Ledger;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>Receipts, checkpoints, inclusion and consistency proofs, and ledger verification against tampering.</summary>
public sealed class ProofTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    /// <summary>Verifies a compact JWS with the published JWK alone, as an outside auditor would, and returns its payload.</summary>
    private async Task<JsonObject> VerifyJwsAsync(string jws, string expectedType)
    {
        using var anonymous = factory.CreateClient();
        var response = await anonymous.GetAsync("/.well-known/consent-signing-key");
        Assert.Equal("application/jwk-set+json", response.Content.Headers.ContentType?.MediaType);
        var jwk = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["keys"]![0]!;
        Assert.Equal(("EC", "P-256", "ES256"), (jwk["kty"]!.GetValue<string>(), jwk["crv"]!.GetValue<string>(), jwk["alg"]!.GetValue<string>()));
        using var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url(jwk["x"]!), Y = Base64Url(jwk["y"]!) },
        });
        var parts = jws.Split('.');
        var header = JsonNode.Parse(Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[0])))!;
        Assert.Equal(("ES256", expectedType, jwk["kid"]!.GetValue<string>()),
            (header["alg"]!.GetValue<string>(), header["typ"]!.GetValue<string>(), header["kid"]!.GetValue<string>()));
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation), "The signature does not verify with the published key");
        return JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]))!.AsObject();

        static byte[] Base64Url(JsonNode node) => System.Buffers.Text.Base64Url.DecodeFromChars(node.GetValue<string>());
    }

    private async Task<JsonArray> PublishedKeysAsync()
    {
        using var anonymous = factory.CreateClient();
        return JsonNode.Parse(await anonymous.GetStringAsync("/.well-known/consent-signing-key"))!["keys"]!.AsArray();
    }

    private async Task<JsonObject> VerifyLedgerAsync(TestSite site)
    {
        using var legal = factory.ClientWithKey(site.LegalKey);
        return await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
    }

    private async Task<JsonObject> SealAsync(TestSite site)
    {
        using var admin = factory.ClientWithKey(site.AdminKey);
        return await ReadJsonAsync(await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null), HttpStatusCode.Created);
    }

    private async Task<List<JsonObject>> RecordManyAsync(TestSite site, params string[] subjects)
    {
        var records = new List<JsonObject>();
        foreach (var subject in subjects)
        {
            records.Add(await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "custom", purposes = new { analytics = records.Count % 2 == 0 } }));
        }
        return records;
    }

    [Fact]
    public async Task Every_write_carries_a_receipt_that_anyone_can_verify_with_the_published_key()
    {
        var site = await factory.CreateSiteAsync();
        var created = await factory.RecordAsync(site.Id, new { policyVersion = 1, method = "accept_all" });

        var receipt = created["receipt"]!;
        var head = Receipts.AssertVerifies(receipt, await PublishedKeysAsync());
        Assert.Equal((1, 0), (head["treeSize"]!.GetValue<long>(), receipt["leafIndex"]!.GetValue<long>())); // one write, a batch of one
        var record = receipt["record"]!.AsObject();
        Assert.Equal(created["id"]!.GetValue<string>(), record["id"]!.GetValue<string>());
        Assert.Equal(created["hash"]!.GetValue<string>(), receipt["hash"]!.GetValue<string>());
        Assert.Equal(site.Id, record["siteId"]!.GetValue<string>());
        Assert.Equal(created["recordedAt"]!.GetValue<DateTimeOffset>(), record["recordedAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(created["policyHash"]!.GetValue<string>(), record["policyHash"]!.GetValue<string>());
        // What was decided is signed too, and the signed record is exactly what the hash covers.
        Assert.Equal("accept_all", record["method"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(created["purposes"], record["purposes"]));
        Assert.Equal(created["subjectCommitment"]!.GetValue<string>(), record["subjectCommitment"]!.GetValue<string>());
        Assert.Equal(created["sourceCommitment"]!.GetValue<string>(), record["sourceCommitment"]!.GetValue<string>());
        Assert.Equal(receipt["hash"]!.GetValue<string>(), ConsentService.Infrastructure.CanonicalJson.Sha256Hex(record));
    }

    [Fact]
    public async Task Every_view_of_a_record_shows_both_commitments_so_its_hash_can_be_recomputed_from_the_view()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        var created = await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "custom", purposes = new { analytics = true } });
        using var legal = factory.ClientWithKey(site.LegalKey);
        var views = new List<JsonNode>
        {
            created,
            (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents/{created["id"]}")))["record"]!,
            (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history")))["records"]![0]!,
            (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents?subjectId={subject}")))["items"]![0]!,
            JsonNode.Parse((await legal.GetStringAsync($"/v1/sites/{site.Id}/consents/export?format=ndjson&subjectId={subject}")).Split('\n')[0])!,
        };
        var csv = (await legal.GetStringAsync($"/v1/sites/{site.Id}/consents/export?format=csv&subjectId={subject}")).Split('\n');
        Assert.EndsWith(",prevHash,hash,subjectCommitment,sourceCommitment", csv[0].TrimEnd('\r'));
        Assert.EndsWith($",{created["hash"]},{created["subjectCommitment"]},{created["sourceCommitment"]}", csv[1].TrimEnd('\r'));
        var exported = (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/export")))["records"]![0]!["proof"]!;
        Assert.Equal(created["subjectCommitment"]!.GetValue<string>(), exported["subjectCommitment"]!.GetValue<string>());
        Assert.Equal(created["sourceCommitment"]!.GetValue<string>(), exported["sourceCommitment"]!.GetValue<string>());
        Assert.DoesNotContain("subjectKey", exported.ToJsonString(), StringComparison.OrdinalIgnoreCase); // the shredding key never leaves

        foreach (var view in views)
        {
            var hashed = new JsonObject
            {
                ["id"] = view["id"]!.GetValue<string>(), ["siteId"] = site.Id, ["subjectCommitment"] = view["subjectCommitment"]!.GetValue<string>(),
                ["sequence"] = view["sequence"]!.GetValue<long>(), ["position"] = view["position"]!.GetValue<long>(),
                ["policyVersion"] = view["policyVersion"]!.GetValue<int>(), ["policyHash"] = view["policyHash"]!.GetValue<string>(),
                ["purposes"] = view["purposes"]!.DeepClone(), ["method"] = view["method"]!.GetValue<string>(),
                ["sourceCommitment"] = view["sourceCommitment"]?.GetValue<string>(),
                ["recordedAt"] = view["recordedAt"]!.GetValue<DateTimeOffset>().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
                ["prevHash"] = view["prevHash"]?.GetValue<string>(),
            };
            Assert.Equal(view["hash"]!.GetValue<string>(), ConsentService.Infrastructure.CanonicalJson.Sha256Hex(hashed));
        }
    }

    [Fact]
    public async Task A_record_comes_with_its_policy_hash_chain_position_and_an_inclusion_proof_once_sealed()
    {
        var site = await factory.CreateSiteAsync();
        var records = await RecordManyAsync(site, NewSubjectId(), NewSubjectId(), NewSubjectId(), NewSubjectId(), NewSubjectId());
        var target = records[3];
        using var legal = factory.ClientWithKey(site.LegalKey);
        var path = $"/v1/sites/{site.Id}/consents/{target["id"]}";

        var pending = await ReadJsonAsync(await legal.GetAsync(path));
        Assert.Null(pending["checkpoint"]); // not sealed yet
        Assert.Equal(target["hash"]!.GetValue<string>(), pending["chain"]!["hash"]!.GetValue<string>());
        using var anonymous = factory.CreateClient();
        var policy = await ReadJsonAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies/1"));
        Assert.Equal(policy["contentHash"]!.GetValue<string>(), pending["policy"]!["contentHash"]!.GetValue<string>());
        Receipts.AssertVerifies(pending["receipt"]!, await PublishedKeysAsync());

        var checkpoint = await SealAsync(site);
        Assert.Equal(5, checkpoint["treeSize"]!.GetValue<long>());
        var head = await VerifyJwsAsync(checkpoint["signedTreeHead"]!.GetValue<string>(), Checkpointer.TreeHeadType);
        Assert.Equal(checkpoint["rootHash"]!.GetValue<string>(), head["rootHash"]!.GetValue<string>());
        Assert.Equal(5, head["treeSize"]!.GetValue<long>());

        var proof = (await ReadJsonAsync(await legal.GetAsync(path)))["checkpoint"]!;
        Assert.Equal(3, proof["leafIndex"]!.GetValue<long>());
        var auditPath = proof["auditPath"]!.AsArray().Select(h => Convert.FromHexString(h!.GetValue<string>())).ToList();
        var leaf = MerkleTree.LeafHash(Convert.FromHexString(target["hash"]!.GetValue<string>()));
        Assert.True(MerkleTree.VerifyInclusion(3, 5, leaf, auditPath, Convert.FromHexString(checkpoint["rootHash"]!.GetValue<string>())));
        Assert.False(MerkleTree.VerifyInclusion(3, 5, MerkleTree.LeafHash(Convert.FromHexString(records[2]["hash"]!.GetValue<string>())),
            auditPath, Convert.FromHexString(checkpoint["rootHash"]!.GetValue<string>())));
    }

    [Fact]
    public async Task Later_checkpoints_are_consistent_with_earlier_ones()
    {
        var site = await factory.CreateSiteAsync();
        await RecordManyAsync(site, NewSubjectId(), NewSubjectId(), NewSubjectId());
        var first = await SealAsync(site);
        await RecordManyAsync(site, NewSubjectId(), NewSubjectId());
        var second = await SealAsync(site);
        using var admin = factory.ClientWithKey(site.AdminKey);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null)).StatusCode); // nothing new

        using var legal = factory.ClientWithKey(site.LegalKey);
        var list = await ReadArrayAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/checkpoints"));
        Assert.Equal([3L, 5L], list.Select(c => c!["treeSize"]!.GetValue<long>()));
        var consistency = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/consistency?first=3&second=5"));
        Assert.True(MerkleTree.VerifyConsistency(3, 5,
            Convert.FromHexString(first["rootHash"]!.GetValue<string>()), Convert.FromHexString(second["rootHash"]!.GetValue<string>()),
            consistency["proof"]!.AsArray().Select(h => Convert.FromHexString(h!.GetValue<string>())).ToList()));
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/consistency?first=4&second=5"), HttpStatusCode.BadRequest, "validation", "first");
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/consistency?first=3&second=x"), HttpStatusCode.BadRequest, "validation", "second");
    }

    [Fact]
    public async Task The_checkpoint_job_seals_new_records_at_each_interval_of_the_clock()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        await app.RecordAsync(site.Id, new { policyVersion = 1, method = "reject_all" });
        await app.RecordAsync(site.Id, new { policyVersion = 1, method = "accept_all" });
        using var legal = app.ClientWithKey(site.LegalKey);
        Assert.Empty(await ReadArrayAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/checkpoints")));

        app.Time.Advance(TimeSpan.FromMinutes(5)); // Ledger:CheckpointInterval
        var deadline = DateTime.UtcNow.AddSeconds(20);
        JsonArray checkpoints;
        while ((checkpoints = await ReadArrayAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/checkpoints"))).Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "No checkpoint was sealed");
            await Task.Delay(50);
        }
        Assert.Equal(2, checkpoints.Single()!["treeSize"]!.GetValue<long>());
    }

    [Fact]
    public async Task Verify_passes_on_an_untouched_ledger_and_reports_what_it_checked()
    {
        var site = await factory.CreateSiteAsync();
        var (alice, bob) = (NewSubjectId(), NewSubjectId());
        await RecordManyAsync(site, alice, bob, alice, alice);
        await SealAsync(site);
        await RecordManyAsync(site, bob);

        var report = await VerifyLedgerAsync(site);
        Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Equal((5L, 2L, 1), (report["records"]!.GetValue<long>(), report["chains"]!.GetValue<long>(), report["checkpoints"]!.GetValue<int>()));
        Assert.Null(report["firstBreak"]);
    }

    [Fact]
    public async Task Verify_catches_an_edited_purpose()
    {
        var site = await factory.CreateSiteAsync();
        var records = await RecordManyAsync(site, NewSubjectId(), NewSubjectId(), NewSubjectId());
        await factory.ExecuteSqlAsync("UPDATE consents SET purposes = json_set(purposes, '$.marketing', json('true')) WHERE id = $id",
            ("$id", records[1]["id"]!.GetValue<string>()));

        var broken = (await VerifyLedgerAsync(site))["firstBreak"]!;
        Assert.Equal("record-altered", broken["kind"]!.GetValue<string>());
        Assert.Equal(records[1]["id"]!.GetValue<string>(), broken["recordId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Verify_catches_a_deleted_record()
    {
        var site = await factory.CreateSiteAsync();
        var alice = NewSubjectId();
        var records = await RecordManyAsync(site, alice, alice, alice);
        await factory.ExecuteSqlAsync("DELETE FROM consents WHERE id = $id", ("$id", records[1]["id"]!.GetValue<string>()));

        var report = await VerifyLedgerAsync(site);
        Assert.False(report["valid"]!.GetValue<bool>());
        Assert.Equal("position-gap", report["firstBreak"]!["kind"]!.GetValue<string>());
        Assert.Equal(3, report["firstBreak"]!["position"]!.GetValue<long>());
    }

    [Fact]
    public async Task Verify_catches_reordered_records()
    {
        var site = await factory.CreateSiteAsync();
        var records = await RecordManyAsync(site, NewSubjectId(), NewSubjectId());
        await factory.ExecuteSqlAsync(
            """
            UPDATE consents SET position = -1 WHERE site_id = $site AND position = 1;
            UPDATE consents SET position = 1 WHERE site_id = $site AND position = 2;
            UPDATE consents SET position = 2 WHERE site_id = $site AND position = -1;
            """, ("$site", site.Id));

        var broken = (await VerifyLedgerAsync(site))["firstBreak"]!;
        Assert.Equal("record-altered", broken["kind"]!.GetValue<string>()); // the position is hashed
        Assert.Equal(records[1]["id"]!.GetValue<string>(), broken["recordId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Verify_catches_a_rewritten_record_whose_hash_was_recomputed_to_match()
    {
        var site = await factory.CreateSiteAsync();
        var alice = NewSubjectId();
        var records = await RecordManyAsync(site, alice, alice, NewSubjectId());
        await SealAsync(site);
        // A careful forger rewrites the first record and its hash: its successor's prevHash gives it away.
        var first = (await factory.Store.GetConsentAsync(site.Id, records[0]["id"]!.GetValue<string>(), default))!;
        var forged = first with { Purposes = new Dictionary<string, bool>(first.Purposes) { ["marketing"] = true } };
        forged = forged with { Hash = ConsentChain.Hash(forged) };
        await factory.ExecuteSqlAsync("UPDATE consents SET purposes = json_set(purposes, '$.marketing', json('true')), hash = $hash WHERE id = $id",
            ("$hash", forged.Hash), ("$id", forged.Id));

        var report = await VerifyLedgerAsync(site);
        Assert.Equal("checkpoint-mismatch", report["firstBreak"]!["kind"]!.GetValue<string>()); // the sealed root no longer matches
        Assert.Equal(3, report["firstBreak"]!["treeSize"]!.GetValue<long>());
    }

    [Fact]
    public async Task Verify_catches_a_sealed_record_deleted_from_the_end()
    {
        var site = await factory.CreateSiteAsync();
        var records = await RecordManyAsync(site, NewSubjectId(), NewSubjectId());
        await SealAsync(site);
        await factory.ExecuteSqlAsync("DELETE FROM consents WHERE id = $id", ("$id", records[1]["id"]!.GetValue<string>()));

        var broken = (await VerifyLedgerAsync(site))["firstBreak"]!;
        Assert.Equal("checkpoint-beyond-ledger", broken["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Ledger_endpoints_need_the_right_role_and_site()
    {
        var site = await factory.CreateSiteAsync();
        var other = await factory.CreateSiteAsync();
        using var checker = factory.ClientWithKey(site.CheckKey);
        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/ledger/verify"), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/ledger/checkpoints"), HttpStatusCode.Forbidden, "forbidden");
        using var legal = factory.ClientWithKey(site.LegalKey);
        await AssertProblemAsync(await legal.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null), HttpStatusCode.Forbidden, "forbidden");
        using var stranger = factory.ClientWithKey(other.LegalKey);
        await AssertProblemAsync(await stranger.GetAsync($"/v1/sites/{site.Id}/ledger/verify"), HttpStatusCode.NotFound, "not-found");
        var record = await factory.RecordAsync(site.Id, new { policyVersion = 1, method = "accept_all" });
        await AssertProblemAsync(await stranger.GetAsync($"/v1/sites/{other.Id}/consents/{record["id"]}"), HttpStatusCode.NotFound, "not-found");
    }
}
