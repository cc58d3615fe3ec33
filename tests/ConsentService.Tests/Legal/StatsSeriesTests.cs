using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>What the console's charts read: weekly series, re-consent after material versions, and the operator's list of sites.</summary>
public sealed class StatsSeriesTests
{
    [Fact]
    public async Task Weekly_groups_are_iso_weeks_keyed_by_their_monday_and_carry_the_gpc_count()
    {
        using var app = new ConsentApiFactory(); // the clock starts on Wednesday 2026-11-25
        var site = await app.CreateSiteAsync();
        var start = app.Time.GetUtcNow();
        await app.RecordAsync(site.Id, new { subjectId = NewSubjectId(), policyVersion = 1, method = "accept_all" });
        app.Time.Advance(TimeSpan.FromDays(4)); // Sunday 29th: same week
        await app.RecordAsync(site.Id, new { subjectId = NewSubjectId(), policyVersion = 1, method = "gpc" });
        app.Time.Advance(TimeSpan.FromDays(1)); // Monday 30th: the next week
        await app.RecordAsync(site.Id, new { subjectId = NewSubjectId(), policyVersion = 1, method = "reject_all" });

        using var legal = app.ClientWithKey(site.LegalKey);
        var window = $"from={Uri.EscapeDataString(start.AddDays(-1).ToString("O"))}&to={Uri.EscapeDataString(app.Time.GetUtcNow().AddDays(1).ToString("O"))}";
        var stats = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats?{window}&groupBy=week"));

        Assert.Equal("week", stats["groupBy"]!.GetValue<string>());
        var weeks = stats["groups"]!.AsArray();
        Assert.Equal(["2026-11-23", "2026-11-30"], weeks.Select(w => w!["key"]!.GetValue<string>()));
        Assert.Equal(2, weeks[0]!["records"]!.GetValue<long>());
        Assert.Equal(1, weeks[0]!["methods"]!["gpc"]!.GetValue<long>());
        Assert.Equal(0.5, weeks[0]!["purposes"]!["analytics"]!["optInRate"]!.GetValue<double>());
        Assert.Equal(1, weeks[1]!["records"]!.GetValue<long>());
    }

    [Fact]
    public async Task Reconsent_counts_who_decided_again_after_each_material_version()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var (a, b, c) = (NewSubjectId(), NewSubjectId(), NewSubjectId());
        await app.RecordAsync(site.Id, new { subjectId = a, policyVersion = 1, method = "accept_all" });
        await app.RecordAsync(site.Id, new { subjectId = b, policyVersion = 1, method = "reject_all" });
        app.Time.Advance(TimeSpan.FromDays(1));

        using var admin = app.ClientWithKey(site.AdminKey);
        using var anonymous = app.CreateClient();
        var reworded = await ReadJsonAsync(await anonymous.GetAsync("/v1/policy-template"));
        reworded["texts"]!["en"]!["description"] = "Same choices, clearer words.";
        Assert.False((await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", reworded), HttpStatusCode.Created))["material"]!.GetValue<bool>());
        var material = reworded.DeepClone().AsObject();
        material["purposes"]![1]!["vendors"]!.AsArray().Add(new JsonObject { ["name"] = "Plausible", ["cookies"] = new JsonArray() });
        var v3 = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", material), HttpStatusCode.Created);
        Assert.True(v3["material"]!.GetValue<bool>());
        app.Time.Advance(TimeSpan.FromDays(1));
        await app.RecordAsync(site.Id, new { subjectId = a, policyVersion = 3, method = "custom", purposes = new { analytics = true } });
        await app.RecordAsync(site.Id, new { subjectId = c, policyVersion = 3, method = "accept_all" }); // new: was never due

        using var legal = app.ClientWithKey(site.LegalKey);
        var report = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats/reconsent"));
        var version = Assert.Single(report["versions"]!.AsArray())!; // v1 asks no one again; v2 was not material
        Assert.Equal(3, version["version"]!.GetValue<int>());
        Assert.Equal(2, version["due"]!.GetValue<long>());
        Assert.Equal(1, version["reconsented"]!.GetValue<long>());
        Assert.Equal(0.5, version["rate"]!.GetValue<double>());

        var before = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats/reconsent?at={Uri.EscapeDataString(app.Time.GetUtcNow().AddDays(-1.5).ToString("O"))}"));
        Assert.Empty(before["versions"]!.AsArray()); // as of before v3 was published
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats/reconsent?at=9999-12-31T23:59:59.9999999Z"), HttpStatusCode.BadRequest, "validation", "at");
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats/reconsent?at=yesterday"), HttpStatusCode.BadRequest, "validation", "at");
        using var checker = app.ClientWithKey(site.CheckKey);
        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/stats/reconsent"), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task The_operator_lists_every_site_and_a_site_key_may_not()
    {
        using var app = new ConsentApiFactory();
        var a = await app.CreateSiteAsync();
        var b = await app.CreateSiteAsync();
        using var op = app.OperatorClient();
        var sites = await ReadArrayAsync(await op.GetAsync("/v1/sites"));
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), sites.Select(s => s!["id"]!.GetValue<string>()));
        Assert.All(sites, s => Assert.Equal("Test shop", s!["name"]!.GetValue<string>()));

        using var admin = app.ClientWithKey(a.AdminKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.GetAsync("/v1/sites")).StatusCode);
    }
}
