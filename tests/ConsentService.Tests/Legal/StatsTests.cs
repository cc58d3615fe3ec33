using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

public sealed class StatsTests
{
    [Fact]
    public async Task Stats_count_each_subjects_latest_decision_per_purpose_and_the_method_mix()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var start = app.Time.GetUtcNow();
        var (a, b, c) = (NewSubjectId(), NewSubjectId(), NewSubjectId());
        // Day 1, policy 1: a accepts then withdraws, b rejects, c grants analytics only.
        await app.RecordAsync(site.Id, new { subjectId = a, policyVersion = 1, method = "accept_all" });
        await app.RecordAsync(site.Id, new { subjectId = a, policyVersion = 1, method = "withdraw" });
        await app.RecordAsync(site.Id, new { subjectId = b, policyVersion = 1, method = "reject_all" });
        await app.RecordAsync(site.Id, new { subjectId = c, policyVersion = 1, method = "custom", purposes = new { analytics = true } });
        // Day 2, policy 2: b accepts everything.
        app.Time.Advance(TimeSpan.FromDays(1));
        using var anonymous = app.CreateClient();
        var template = await ReadJsonAsync(await anonymous.GetAsync("/v1/policy-template"));
        using var admin = app.ClientWithKey(site.AdminKey);
        await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", template), HttpStatusCode.Created);
        await app.RecordAsync(site.Id, new { subjectId = b, policyVersion = 2, method = "accept_all" });
        using var legal = app.ClientWithKey(site.LegalKey);
        var window = $"from={Uri.EscapeDataString(start.ToString("O"))}&to={Uri.EscapeDataString(start.AddDays(2).ToString("O"))}";

        var byDay = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats?{window}"));
        Assert.Equal("day", byDay["groupBy"]!.GetValue<string>());
        var days = byDay["groups"]!.AsArray();
        Assert.Equal([start.ToString("yyyy-MM-dd"), start.AddDays(1).ToString("yyyy-MM-dd")], days.Select(d => d!["key"]!.GetValue<string>()));
        AssertGroup(days[0]!, records: 4, subjects: 3, analytics: (1, 2), marketing: (0, 3));
        Assert.Equal(1, days[0]!["methods"]!["withdraw"]!.GetValue<long>());
        Assert.Equal(1, days[0]!["methods"]!["accept_all"]!.GetValue<long>());
        AssertGroup(days[1]!, records: 1, subjects: 1, analytics: (1, 0), marketing: (1, 0));
        // Over the window each subject counts once, with its latest decision: a withdrew, b accepted, c analytics only.
        AssertGroup(byDay["total"]!, records: 5, subjects: 3, analytics: (2, 1), marketing: (1, 2));
        Assert.Equal(0.6667, byDay["total"]!["purposes"]!["analytics"]!["optInRate"]!.GetValue<double>());

        var byVersion = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats?{window}&groupBy=policyVersion"));
        Assert.Equal(["1", "2"], byVersion["groups"]!.AsArray().Select(g => g!["key"]!.GetValue<string>()));
    }

    private static void AssertGroup(JsonNode group, long records, long subjects, (long, long) analytics, (long, long) marketing)
    {
        Assert.Equal(records, group["records"]!.GetValue<long>());
        Assert.Equal(subjects, group["subjects"]!.GetValue<long>());
        Assert.Equal(analytics, (group["purposes"]!["analytics"]!["granted"]!.GetValue<long>(), group["purposes"]!["analytics"]!["refused"]!.GetValue<long>()));
        Assert.Equal(marketing, (group["purposes"]!["marketing"]!["granted"]!.GetValue<long>(), group["purposes"]!["marketing"]!["refused"]!.GetValue<long>()));
    }

    [Theory]
    [InlineData("groupBy=month", "groupBy")]
    [InlineData("from=2026-11-25T10:00:00Z&to=2026-11-25T10:00:00Z", "to")]
    [InlineData("from=last-week", "from")]
    public async Task Bad_parameters_are_400_problems(string query, string field)
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        using var legal = app.ClientWithKey(site.LegalKey);
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/stats?{query}"), HttpStatusCode.BadRequest, "validation", field);
        using var checker = app.ClientWithKey(site.CheckKey);
        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/stats"), HttpStatusCode.Forbidden, "forbidden");
    }
}
