using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

public sealed class LedgerQueryTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private async Task<List<JsonObject>> QueryAllAsync(TestSite site, string query = "", int limit = 1000)
    {
        using var legal = factory.ClientWithKey(site.LegalKey);
        var items = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var page = await ReadJsonAsync(await legal.GetAsync(
                $"/v1/sites/{site.Id}/consents?limit={limit}{query}{(cursor is null ? "" : "&cursor=" + cursor)}"));
            items.AddRange(page["items"]!.AsArray().Select(i => i!.AsObject()));
            cursor = page["nextCursor"]?.GetValue<string>();
        } while (cursor is not null);
        return items;
    }

    private static string[] Ids(IEnumerable<JsonObject> records) => [.. records.Select(r => r["id"]!.GetValue<string>())];

    [Fact]
    public async Task Filters_select_records_in_ledger_order()
    {
        var site = await factory.CreateSiteAsync();
        var (alice, bob) = (NewSubjectId(), NewSubjectId());
        var a1 = await factory.RecordAsync(site.Id, new { subjectId = alice, policyVersion = 1, method = "accept_all" });
        factory.Time.Advance(TimeSpan.FromHours(1));
        var b1 = await factory.RecordAsync(site.Id, new { subjectId = bob, policyVersion = 1, method = "custom", purposes = new { analytics = true } });
        factory.Time.Advance(TimeSpan.FromHours(1));
        var a2 = await factory.RecordAsync(site.Id, new { subjectId = alice, policyVersion = 1, method = "withdraw" });
        var since = b1["recordedAt"]!.GetValue<DateTimeOffset>();

        Assert.Equal(Ids([a1, b1, a2]), Ids(await QueryAllAsync(site)));
        Assert.Equal([1L, 2, 3], (await QueryAllAsync(site)).Select(r => r["position"]!.GetValue<long>()));
        Assert.Equal(Ids([a1, a2]), Ids(await QueryAllAsync(site, $"&subjectId={alice}")));
        Assert.Equal(Ids([a1, b1]), Ids(await QueryAllAsync(site, "&purpose=analytics&granted=true")));
        Assert.Equal(Ids([a1]), Ids(await QueryAllAsync(site, "&purpose=marketing&granted=true")));
        Assert.Equal(Ids([a2]), Ids(await QueryAllAsync(site, "&method=withdraw")));
        Assert.Equal(Ids([a1, b1, a2]), Ids(await QueryAllAsync(site, "&policyVersion=1")));
        Assert.Empty(await QueryAllAsync(site, "&policyVersion=2"));
        Assert.Equal(Ids([b1, a2]), Ids(await QueryAllAsync(site, $"&from={Uri.EscapeDataString(since.ToString("O"))}")));
        Assert.Equal(Ids([a1]), Ids(await QueryAllAsync(site, $"&to={Uri.EscapeDataString(since.ToString("O"))}")));
    }

    [Fact]
    public async Task Cursor_paging_neither_skips_nor_repeats_a_record_written_between_pages()
    {
        var site = await factory.CreateSiteAsync();
        for (var i = 0; i < 7; i++) await factory.RecordAsync(site.Id, new { policyVersion = 1, method = "reject_all" });
        using var legal = factory.ClientWithKey(site.LegalKey);

        var seen = new List<string>();
        var page = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents?limit=3"));
        while (true)
        {
            seen.AddRange(page["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
            // Writers keep going between pages, several at once.
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => factory.RecordAsync(site.Id, new { policyVersion = 1, method = "accept_all" })));
            if (page["nextCursor"]?.GetValue<string>() is not { } cursor || seen.Count > 40) break;
            page = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents?limit=3&cursor={cursor}"));
        }

        Assert.Equal(seen.Count, seen.Distinct().Count());
        var all = Ids(await QueryAllAsync(site));
        Assert.Equal(all.Take(seen.Count), seen); // a prefix of the ledger, in order, without holes
    }

    [Fact]
    public async Task Check_keys_cannot_query_and_other_sites_do_not_exist()
    {
        var site = await factory.CreateSiteAsync();
        var other = await factory.CreateSiteAsync();
        using var checker = factory.ClientWithKey(site.CheckKey);
        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/consents"), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/consents/export?format=csv"), HttpStatusCode.Forbidden, "forbidden");
        using var stranger = factory.ClientWithKey(other.AdminKey);
        await AssertProblemAsync(await stranger.GetAsync($"/v1/sites/{site.Id}/consents"), HttpStatusCode.NotFound, "not-found");
        using var anonymous = factory.CreateClient();
        await AssertProblemAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/consents"), HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("cursor=cDA", "cursor")] // "p0"
    [InlineData("purpose=Analytics!", "purpose")]
    [InlineData("granted=true", "granted")]
    [InlineData("purpose=analytics&granted=maybe", "granted")]
    [InlineData("method=sometimes", "method")]
    [InlineData("policyVersion=0", "policyVersion")]
    [InlineData("policyVersion=v2", "policyVersion")]
    [InlineData("from=yesterday", "from")]
    [InlineData("from=2026-11-25T10:00:00Z&to=2026-11-25T09:00:00Z", "to")]
    [InlineData("subjectId=has%20space", "subjectId")]
    [InlineData("format=csv", "format")]
    public async Task Bad_filters_are_400_problems_naming_the_parameter(string query, string field)
    {
        var site = await factory.CreateSiteAsync();
        using var legal = factory.ClientWithKey(site.LegalKey);
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents?{query}"), HttpStatusCode.BadRequest, "validation", field);
    }

    [Theory]
    [InlineData("", "format")]
    [InlineData("format=xml", "format")]
    [InlineData("format=csv&limit=5", "limit")]
    [InlineData("format=csv&from=soon", "from")]
    public async Task Bad_export_requests_are_400_problems(string query, string field)
    {
        var site = await factory.CreateSiteAsync();
        using var legal = factory.ClientWithKey(site.LegalKey);
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents/export?{query}"), HttpStatusCode.BadRequest, "validation", field);
    }

    [Fact]
    public async Task Ndjson_export_streams_one_record_per_line_as_an_attachment()
    {
        var site = await factory.CreateSiteAsync();
        for (var i = 0; i < 25; i++) await factory.RecordAsync(site.Id, new { policyVersion = 1, method = i % 2 == 0 ? "accept_all" : "reject_all" });
        using var legal = factory.ClientWithKey(site.LegalKey);

        var response = await legal.GetAsync($"/v1/sites/{site.Id}/consents/export?format=ndjson&method=accept_all");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith($"consents-{site.Id}-", response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(13, lines.Length);
        Assert.All(lines, line => Assert.Equal("accept_all", JsonNode.Parse(line)!["method"]!.GetValue<string>()));
        Assert.Equal(Ids(await QueryAllAsync(site, "&method=accept_all")), lines.Select(l => JsonNode.Parse(l)!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Csv_export_has_a_column_per_purpose_and_defuses_spreadsheet_formulas()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        // A site's own user id may be anything its back end chose, even a formula.
        var created = await ReadJsonAsync(await admin.PostConsentAsync(site.Id,
            new { subjectId = "=1+2", policyVersion = 1, method = "api", purposes = new { model_improvement = true } }), HttpStatusCode.Created);
        await factory.RecordAsync(site.Id, new { policyVersion = 1, method = "reject_all", source = new { url = "https://shop.example/a,b" } });
        using var legal = factory.ClientWithKey(site.LegalKey);

        var response = await legal.GetAsync($"/v1/sites/{site.Id}/consents/export?format=csv");
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal(3, lines.Count);
        Assert.StartsWith("id,subjectId,sequence,position,recordedAt,policyVersion,policyHash,method,purpose:necessary,purpose:analytics,purpose:marketing,purpose:model_improvement,url,", lines[0]);
        Assert.StartsWith($"{created["id"]},'=1+2,1,1,", lines[1]);
        Assert.Contains(",api,true,false,false,true,", lines[1]);
        Assert.Contains(",\"https://shop.example/a,b\",", lines[2]);
    }
}
