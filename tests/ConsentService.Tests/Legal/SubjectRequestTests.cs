using System.Net;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>Access / portability and erasure (GDPR Art. 15, 17, 20), and retention.</summary>
public sealed class SubjectRequestTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private static string SubjectPath(TestSite site, string subject) => $"/v1/sites/{site.Id}/subjects/{subject}";

    [Fact]
    public async Task An_export_holds_everything_on_the_subject_in_consent_receipt_terms()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "custom", purposes = new { analytics = true },
            source = new { url = "https://shop.example/cart?utm=x", locale = "de" } });
        factory.Time.Advance(TimeSpan.FromDays(1));
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        using var legal = factory.ClientWithKey(site.LegalKey);

        var response = await legal.GetAsync(SubjectPath(site, subject) + "/export");
        var export = await ReadJsonAsync(response);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal(subject, export["subjectId"]!.GetValue<string>());
        Assert.Contains("withdraw", export["howToWithdraw"]!.GetValue<string>());
        Assert.False(export["currentState"]!["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
        var records = export["records"]!.AsArray();
        Assert.Equal(["given", "withdrawn"], records.Select(r => r!["eventType"]!.GetValue<string>()));
        var first = records[0]!;
        Assert.Equal("custom", first["collectionMethod"]!.GetValue<string>());
        Assert.Equal(1, first["notice"]!["policyVersion"]!.GetValue<int>());
        Assert.Equal("de", first["notice"]!["language"]!.GetValue<string>());
        Assert.Equal("https://shop.example/cart", first["source"]!["pageUrl"]!.GetValue<string>());
        Assert.Equal(first["eventTime"]!.GetValue<DateTimeOffset>().AddDays(395), first["validUntil"]!.GetValue<DateTimeOffset>());
        var analytics = first["purposes"]!.AsArray().Single(p => p!["id"]!.GetValue<string>() == "analytics")!;
        Assert.True(analytics["granted"]!.GetValue<bool>());
        Assert.Equal("consent", analytics["lawfulBasis"]!.GetValue<string>());
        Assert.Contains("PostHog", analytics["recipients"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.NotNull(first["proof"]!["hash"]);
    }

    [Fact]
    public async Task Erasure_leaves_no_consent_no_history_and_a_ledger_that_still_verifies()
    {
        var site = await factory.CreateSiteAsync();
        var (subject, bystander) = (NewSubjectId(), NewSubjectId());
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all", source = new { url = "https://shop.example/" } });
        var kept = await factory.RecordAsync(site.Id, new { subjectId = bystander, policyVersion = 1, method = "accept_all" });
        var last = await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "custom", purposes = new { analytics = true } });
        using var admin = factory.ClientWithKey(site.AdminKey);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null)).StatusCode);
        using var checker = factory.ClientWithKey(site.CheckKey);
        Assert.True((await ReadJsonAsync(await checker.GetAsync(SubjectPath(site, subject) + "/consent")))["purposes"]!["analytics"]!["granted"]!.GetValue<bool>()); // cached

        using var legal = factory.ClientWithKey(site.LegalKey);
        Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync(SubjectPath(site, subject))).StatusCode);

        var state = await ReadJsonAsync(await checker.GetAsync(SubjectPath(site, subject) + "/consent"));
        Assert.True(state["needsReconsent"]!.GetValue<bool>());
        Assert.All(state["purposes"]!.AsObject(), p => Assert.False(p.Value!["granted"]!.GetValue<bool>()));
        await AssertProblemAsync(await legal.GetAsync(SubjectPath(site, subject) + "/history"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await legal.GetAsync(SubjectPath(site, subject) + "/export"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await legal.DeleteAsync(SubjectPath(site, subject)), HttpStatusCode.NotFound, "not-found");

        // The records stay, unlinked from the person; the ledger and its checkpoint still verify.
        var shredded = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents/{last["id"]}"));
        Assert.Null(shredded["record"]!["subjectId"]);
        Assert.Null(shredded["record"]!["source"]);
        Assert.Equal(last["hash"]!.GetValue<string>(), shredded["record"]!["hash"]!.GetValue<string>());
        Assert.NotNull(shredded["checkpoint"]);
        var report = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
        Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM consents WHERE site_id = $site AND subject_id = $subject", site.Id, subject));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM subjects WHERE site_id = $site AND subject_id = $subject", site.Id, subject));
        Assert.Equal(kept["subjectId"]!.GetValue<string>(),
            (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{bystander}/history")))["subjectId"]!.GetValue<string>());

        // The same id may consent again later: a new chain, seen at once by checks.
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        Assert.True((await ReadJsonAsync(await checker.GetAsync(SubjectPath(site, subject) + "/consent")))["purposes"]!["marketing"]!["granted"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Subject_requests_need_a_legal_key_of_the_site_and_a_valid_id()
    {
        var site = await factory.CreateSiteAsync();
        var other = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        using var checker = factory.ClientWithKey(site.CheckKey);
        await AssertProblemAsync(await checker.DeleteAsync(SubjectPath(site, subject)), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await checker.GetAsync(SubjectPath(site, subject) + "/export"), HttpStatusCode.Forbidden, "forbidden");
        using var stranger = factory.ClientWithKey(other.AdminKey);
        await AssertProblemAsync(await stranger.DeleteAsync(SubjectPath(site, subject)), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await stranger.DeleteAsync(SubjectPath(other, subject)), HttpStatusCode.NotFound, "not-found");
        using var legal = factory.ClientWithKey(site.LegalKey);
        await AssertProblemAsync(await legal.DeleteAsync(SubjectPath(site, "has%20space")), HttpStatusCode.BadRequest, "validation", "subjectId");
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM consents WHERE site_id = $site AND subject_id = $subject", site.Id, subject));
    }

    [Fact]
    public async Task Retention_shreds_subjects_whose_last_record_is_past_the_site_setting()
    {
        // 11 days without a record: more than the clock check allows by default (see ClockJumpTests).
        using var app = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["Retention:MaxClockLead"] = "30.00:00:00" } };
        var site = await app.CreateSiteAsync(new { name = "Short memory", retentionDays = 30 });
        var (old, recent) = (NewSubjectId(), NewSubjectId());
        await app.RecordAsync(site.Id, new { subjectId = old, policyVersion = 1, method = "accept_all" });
        app.Time.Advance(TimeSpan.FromDays(20));
        await app.RecordAsync(site.Id, new { subjectId = recent, policyVersion = 1, method = "reject_all" });
        using var legal = app.ClientWithKey(site.LegalKey);

        app.Time.Advance(TimeSpan.FromDays(11)); // old: 31 days idle, recent: 11; the hourly job runs
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await legal.GetAsync(SubjectPath(site, old) + "/history")).StatusCode != HttpStatusCode.NotFound)
        {
            Assert.True(DateTime.UtcNow < deadline, "The retention job did not shred the expired subject");
            await Task.Delay(50);
        }
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync(SubjectPath(site, recent) + "/history")).StatusCode);
        Assert.True((await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify")))["valid"]!.GetValue<bool>());
    }

    private async Task<long> CountAsync(string sql, string siteId, string subjectId)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={factory.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$site", siteId);
        command.Parameters.AddWithValue("$subject", subjectId);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
