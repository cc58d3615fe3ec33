using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>
/// Edits an auditor or an attacker can make to consent.db with sqlite3, which ledger/verify used to
/// miss: a record moved to another subject, a forged source, a subject head pointed back at an older
/// record, the newest record deleted. Each is now reported, and the consent check never answers from
/// a head verify would reject. Also: unsealed records are sealed when the service starts.
/// </summary>
public sealed class LedgerTamperTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private static async Task<JsonObject> VerifyAsync(ConsentApiFactory app, TestSite site)
    {
        using var legal = app.ClientWithKey(site.LegalKey);
        return await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
    }

    private static Task<JsonObject> RecordAsync(ConsentApiFactory app, TestSite site, string subject, string method, bool analytics = false) =>
        app.RecordAsync(site.Id, method == "custom"
            ? new { subjectId = subject, policyVersion = 1, method, purposes = new { analytics } }
            : new { subjectId = subject, policyVersion = 1, method });

    private static string Id(JsonObject record) => record["id"]!.GetValue<string>();

    private static void AssertBreak(JsonObject report, string kind, string? recordId)
    {
        Assert.False(report["valid"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Equal(kind, report["firstBreak"]!["kind"]!.GetValue<string>());
        if (recordId is not null) Assert.Equal(recordId, report["firstBreak"]!["recordId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Verify_catches_a_record_moved_to_another_subject()
    {
        var site = await factory.CreateSiteAsync();
        var (alice, bob) = (NewSubjectId(), NewSubjectId());
        await RecordAsync(factory, site, alice, "custom", analytics: false);
        await RecordAsync(factory, site, bob, "custom", analytics: false);
        var granted = await RecordAsync(factory, site, alice, "custom", analytics: true);
        Assert.True((await VerifyAsync(factory, site))["valid"]!.GetValue<bool>());

        // Alice's grant becomes Bob's: every hash still holds (the subject id is not hashed, its commitment is).
        await factory.ExecuteSqlAsync("UPDATE consents SET subject_id = $bob WHERE id = $id", ("$bob", bob), ("$id", Id(granted)));

        AssertBreak(await VerifyAsync(factory, site), "subject-mismatch", Id(granted));
    }

    [Fact]
    public async Task Verify_catches_a_record_moved_to_a_subject_alone_in_its_chain()
    {
        var site = await factory.CreateSiteAsync();
        var (alice, bob) = (NewSubjectId(), NewSubjectId());
        var only = await RecordAsync(factory, site, alice, "custom", analytics: true);
        await RecordAsync(factory, site, bob, "reject_all");

        // The moved record is the whole of its chain: only the commitment under Bob's key gives it away.
        await factory.ExecuteSqlAsync("UPDATE consents SET subject_id = $bob WHERE id = $id", ("$bob", bob), ("$id", Id(only)));

        AssertBreak(await VerifyAsync(factory, site), "subject-mismatch", Id(only));
    }

    [Theory]
    [InlineData("$.ipPrefix", "198.51.100.0/24")]
    [InlineData("$.url", "https://shop.example/i-agreed-here")]
    public async Task Verify_catches_a_forged_source(string field, string value)
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await RecordAsync(factory, site, subject, "reject_all");
        var target = await factory.RecordAsync(site.Id, new
        {
            subjectId = subject, policyVersion = 1, method = "accept_all", source = new { url = "https://shop.example/cart", locale = "en" },
        });

        await factory.ExecuteSqlAsync("UPDATE consents SET source = json_set(source, $field, $value) WHERE id = $id",
            ("$field", field), ("$value", value), ("$id", Id(target)));

        AssertBreak(await VerifyAsync(factory, site), "source-altered", Id(target));
    }

    [Fact]
    public async Task A_head_pointed_back_at_an_older_record_is_reported_and_the_withdrawal_still_holds_after_a_restart()
    {
        var first = new ConsentApiFactory { KeepDataDirectory = true };
        var site = await first.CreateSiteAsync();
        var subject = NewSubjectId();
        var granted = await RecordAsync(first, site, subject, "accept_all");
        await RecordAsync(first, site, subject, "withdraw");
        await first.ExecuteSqlAsync(
            "UPDATE subjects SET head_record_id = $id, head_sequence = 1, head_hash = $hash WHERE site_id = $site AND subject_id = $subject",
            ("$id", Id(granted)), ("$hash", granted["hash"]!.GetValue<string>()), ("$site", site.Id), ("$subject", subject));
        AssertBreak(await VerifyAsync(first, site), "head-mismatch", null);
        first.Dispose();

        // A restart empties the cache: the check is answered from the store, and must not come from the edited head.
        using var second = new ConsentApiFactory { DataDirectory = first.DataDirectory };
        using var checker = second.ClientWithKey(site.CheckKey);
        var check = await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent?purpose=analytics"));
        Assert.False(check["granted"]!.GetValue<bool>(), check.ToJsonString());
        var state = await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent"));
        Assert.Equal("withdraw", state["method"]!.GetValue<string>());
        AssertBreak(await VerifyAsync(second, site), "head-mismatch", null);

        // The subject's next decision continues the real chain (it does not fail on a repeated sequence).
        var next = await RecordAsync(second, site, subject, "reject_all");
        Assert.Equal(3, next["sequence"]!.GetValue<long>());
        Assert.True((await VerifyAsync(second, site))["valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Verify_catches_the_newest_unsealed_record_deleted_with_the_head_repointed()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await RecordAsync(factory, site, NewSubjectId(), "reject_all");
        var granted = await RecordAsync(factory, site, subject, "accept_all");
        var withdrawal = await RecordAsync(factory, site, subject, "withdraw");

        // Everything a careful forger can make consistent: the chain ends at the grant, no position is missing.
        await factory.ExecuteSqlAsync(
            """
            DELETE FROM consents WHERE id = $withdrawal;
            UPDATE subjects SET head_record_id = $id, head_sequence = 1, head_hash = $hash WHERE site_id = $site AND subject_id = $subject;
            """,
            ("$withdrawal", Id(withdrawal)), ("$id", Id(granted)), ("$hash", granted["hash"]!.GetValue<string>()),
            ("$site", site.Id), ("$subject", subject));

        var report = await VerifyAsync(factory, site);
        AssertBreak(report, "ledger-truncated", null);
        Assert.Equal(3, report["firstBreak"]!["position"]!.GetValue<long>());

        // The next record does not take the deleted one's position: the gap stays visible.
        var next = await RecordAsync(factory, site, NewSubjectId(), "reject_all");
        Assert.Equal(4, next["position"]!.GetValue<long>());
        AssertBreak(await VerifyAsync(factory, site), "position-gap", Id(next));
    }

    [Fact]
    public async Task Verify_catches_the_newest_record_replaced_by_a_rehashed_forgery()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await RecordAsync(factory, site, subject, "accept_all");
        var withdrawal = await RecordAsync(factory, site, subject, "withdraw");
        var record = (await factory.Store.GetConsentAsync(site.Id, Id(withdrawal), default))!;
        var forged = record with { Method = ConsentService.Consents.ConsentMethod.AcceptAll };
        forged = forged with { Hash = ConsentService.Consents.ConsentChain.Hash(forged) };
        await factory.ExecuteSqlAsync(
            """
            UPDATE consents SET method = 'accept_all', hash = $hash WHERE id = $id;
            UPDATE subjects SET head_hash = $hash WHERE site_id = $site AND subject_id = $subject;
            """, ("$hash", forged.Hash), ("$id", forged.Id), ("$site", site.Id), ("$subject", subject));

        AssertBreak(await VerifyAsync(factory, site), "ledger-head-mismatch", forged.Id);
    }

    [Fact]
    public async Task Verify_still_passes_after_erasure_and_reconsent()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await RecordAsync(factory, site, subject, "accept_all");
        await RecordAsync(factory, site, NewSubjectId(), "reject_all");
        await RecordAsync(factory, site, subject, "withdraw");
        using (var admin = factory.ClientWithKey(site.AdminKey))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/subjects/{subject}")).StatusCode);
        }
        await RecordAsync(factory, site, subject, "custom", analytics: true);

        var report = await VerifyAsync(factory, site);
        Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Equal((4L, 3L), (report["records"]!.GetValue<long>(), report["chains"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Records_left_unsealed_by_the_last_run_are_sealed_when_the_service_starts()
    {
        var first = new ConsentApiFactory { KeepDataDirectory = true };
        var site = await first.CreateSiteAsync();
        for (var i = 0; i < 3; i++)
        {
            await RecordAsync(first, site, NewSubjectId(), "accept_all");
        }
        using (var legal = first.ClientWithKey(site.LegalKey))
        {
            Assert.Empty(await ReadArrayAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/checkpoints")));
        }
        first.Dispose(); // well before Ledger:CheckpointInterval

        using var second = new ConsentApiFactory { DataDirectory = first.DataDirectory };
        using var again = second.ClientWithKey(site.LegalKey);
        var checkpoints = await ReadArrayAsync(await again.GetAsync($"/v1/sites/{site.Id}/ledger/checkpoints")); // the clock never moved
        Assert.Equal(3, Assert.Single(checkpoints)!["treeSize"]!.GetValue<long>());
        Assert.True((await VerifyAsync(second, site))["valid"]!.GetValue<bool>());
    }
}
