using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Ledger;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>
/// Writes that commit together share one ECDSA signature: each receipt carries the batch head (a JWS over the
/// Merkle root of the batch's record hashes) and its own audit path, and verifies alone with the published key.
/// </summary>
public sealed class BatchReceiptTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private async Task<JsonArray> PublishedKeysAsync()
    {
        using var anonymous = factory.CreateClient();
        return JsonNode.Parse(await anonymous.GetStringAsync("/.well-known/consent-signing-key"))!["keys"]!.AsArray();
    }

    /// <summary>Many back-end writes for two sites at once: they queue behind each other's commit and share batches.</summary>
    private async Task<List<(string Site, JsonObject Created)>> WriteAtOnceAsync(TestSite a, TestSite b, int count)
    {
        using var clientA = factory.ClientWithKey(a.AdminKey);
        using var clientB = factory.ClientWithKey(b.AdminKey);
        var writes = Enumerable.Range(0, count).Select(async i =>
        {
            var (site, client) = i % 3 == 0 ? (b, clientB) : (a, clientA);
            var response = await client.PostAsJsonAsync($"/v1/sites/{site.Id}/consents",
                new { subjectId = $"user:{Guid.NewGuid():N}", policyVersion = 1, method = "api", purposes = new { analytics = i % 2 == 0 } });
            return (site.Id, await ReadJsonAsync(response, HttpStatusCode.Created));
        });
        return [.. await Task.WhenAll(writes)];
    }

    [Fact]
    public async Task Writes_committed_together_share_one_signed_batch_head_and_each_receipt_verifies_alone()
    {
        var (a, b) = (await factory.CreateSiteAsync(), await factory.CreateSiteAsync());
        var keys = await PublishedKeysAsync();
        var all = new List<(string Site, JsonObject Created)>();
        // A commit takes a sync to disk; writes sent together queue behind it and commit as one batch. Three
        // rounds at most, so that a machine that happens to commit each one alone fails with a clear message.
        for (var round = 0; round < 3 && !all.GroupBy(w => w.Created["receipt"]!["batchHead"]!.GetValue<string>()).Any(g => g.Count() >= 3); round++)
        {
            all.AddRange(await WriteAtOnceAsync(a, b, 48));
        }

        var heads = all.GroupBy(w => w.Created["receipt"]!["batchHead"]!.GetValue<string>()).ToList();
        Assert.Contains(heads, g => g.Count() >= 3);
        Assert.True(heads.Count < all.Count, $"{all.Count} writes, {heads.Count} signatures");
        foreach (var (site, created) in all)
        {
            var receipt = created["receipt"]!;
            var head = Receipts.AssertVerifies(receipt, keys);
            Assert.Equal(site, head["siteId"]!.GetValue<string>()); // one site per head: no other tenant's leaves in a receipt
            Assert.Equal(created["hash"]!.GetValue<string>(), receipt["hash"]!.GetValue<string>());
        }
        foreach (var batch in heads)
        {
            // Every record of the batch is this test's (fresh sites): the head covers exactly them, one leaf each.
            var head = Receipts.AssertVerifies(batch.First().Created["receipt"]!, keys);
            Assert.Equal(batch.Count(), head["treeSize"]!.GetValue<long>());
            Assert.Equal(Enumerable.Range(0, batch.Count()).Select(i => (long)i),
                batch.Select(w => w.Created["receipt"]!["leafIndex"]!.GetValue<long>()).Order());
            Assert.Equal(head["firstPosition"]!.GetValue<long>(), batch.Min(w => w.Created["position"]!.GetValue<long>()));
        }
    }

    [Fact]
    public async Task A_receipt_whose_leaf_index_or_path_is_edited_or_taken_from_another_batch_does_not_verify()
    {
        var (a, b) = (await factory.CreateSiteAsync(), await factory.CreateSiteAsync());
        var keys = await PublishedKeysAsync();
        var all = await WriteAtOnceAsync(a, b, 48);
        all.AddRange(await WriteAtOnceAsync(a, b, 48));
        var batches = all.Where(w => w.Site == a.Id).GroupBy(w => w.Created["receipt"]!["batchHead"]!.GetValue<string>())
            .Where(g => g.Count() >= 2).ToList();
        Assert.True(batches.Count >= 2, "two batches of two or more records each are needed");
        var receipt = batches[0].First().Created["receipt"]!.DeepClone().AsObject();
        var neighbour = batches[0].Last().Created["receipt"]!;
        var stranger = batches[1].First().Created["receipt"]!;
        Receipts.AssertVerifies(receipt, keys);

        var edits = new Dictionary<string, Action<JsonObject>>
        {
            ["leaf index of the neighbour"] = r => r["leafIndex"] = neighbour["leafIndex"]!.GetValue<long>(),
            ["audit path of the neighbour"] = r => r["auditPath"] = neighbour["auditPath"]!.DeepClone(),
            ["one path hash changed"] = r => r["auditPath"]![0] = new string('0', 64),
            ["path and index from another batch"] = r => (r["auditPath"], r["leafIndex"]) = (stranger["auditPath"]!.DeepClone(), stranger["leafIndex"]!.DeepClone()),
            ["head of another batch"] = r => r["batchHead"] = stranger["batchHead"]!.DeepClone(),
            ["record of the neighbour"] = r => (r["record"], r["hash"]) = (neighbour["record"]!.DeepClone(), neighbour["hash"]!.DeepClone()),
        };
        foreach (var (what, edit) in edits)
        {
            var edited = receipt.DeepClone().AsObject();
            edit(edited);
            Assert.False(JsonNode.DeepEquals(edited, receipt), what);
            Assert.ThrowsAny<Exception>(() => Receipts.AssertVerifies(edited, keys));
        }
    }

    [Fact]
    public void Paths_read_off_the_levels_are_the_RFC_9162_inclusion_proofs_for_every_size_and_leaf()
    {
        for (var size = 1; size <= 70; size++)
        {
            var leaves = Enumerable.Range(0, size).Select(i => MerkleTree.LeafHash(BitConverter.GetBytes(i))).ToList();
            var levels = MerkleTree.Levels(leaves);
            Assert.Equal(MerkleTree.Root(leaves), levels[^1][0]);
            for (var index = 0; index < size; index++)
            {
                Assert.Equal(MerkleTree.InclusionProof(leaves, index, size), MerkleTree.PathFrom(levels, index));
            }
        }
    }
}
