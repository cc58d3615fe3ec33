using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Audit.AuditApi;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Audit;

/// <summary><c>GET …/audit/logs</c> and its export: who may read, filters, paging, bad input, and that nothing can change an event.</summary>
public sealed class AuditLogApiTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private static List<string> Ids(IEnumerable<JsonObject> events) => [.. events.Select(e => e["id"]!.GetValue<string>())];

    [Theory]
    [InlineData("logs")]
    [InlineData("logs/export")]
    public async Task Only_an_admin_reads_the_log_and_a_legal_or_check_keys_attempt_is_recorded(string path)
    {
        var site = await factory.CreateAuditedSiteAsync();
        var action = path == "logs" ? "GetAuditLogs" : "ExportAuditLogs";

        foreach (var key in new[] { site.LegalKey, site.CheckKey })
        {
            using var client = factory.Client(key);
            await AssertProblemAsync(await client.GetAsync($"/v1/sites/{site.Id}/audit/{path}"), HttpStatusCode.Forbidden, "forbidden");
        }

        var attempts = (await factory.EventsAsync(site.Id, site.AdminKey)).Take(2).ToList();
        Assert.Equal([(action, site.CheckKeyId, 403), (action, site.LegalKeyId, 403)], attempts.Select(e => (e.Action(), e.KeyId()!, e.Outcome())));
    }

    [Fact]
    public async Task The_operator_reads_any_sites_log()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var events = await factory.EventsAsync(site.Id, ConsentApiFactory.OperatorKey);
        Assert.Equal(["IssueApiKey", "IssueApiKey", "CreateSite"], events.Select(e => e.Action()));
    }

    [Theory]
    [InlineData("logs")]
    [InlineData("logs/export")]
    public async Task Another_sites_admin_gets_404_and_its_own_log_holds_only_its_own_calls(string path)
    {
        var a = await factory.CreateAuditedSiteAsync();
        var b = await factory.CreateAuditedSiteAsync();
        using var bAdmin = factory.Client(b.AdminKey);

        await AssertProblemAsync(await bAdmin.GetAsync($"/v1/sites/{a.Id}/audit/{path}"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await bAdmin.GetAsync($"/v1/sites/{a.Id}/audit/{path}?cursor=x&limit=0"), HttpStatusCode.NotFound, "not-found");

        var bEvents = await factory.EventsAsync(b.Id, b.AdminKey);
        Assert.Equal((404, $"/v1/sites/{a.Id}/audit/{path}", b.AdminKeyId), (bEvents[0].Outcome(), bEvents[0]["path"]!.GetValue<string>(), bEvents[0].KeyId()));
        Assert.All(bEvents, e => Assert.Equal(b.Id, e["siteId"]!.GetValue<string>()));
        Assert.DoesNotContain(bEvents, e => e.KeyId() is { } k && (k == a.AdminKeyId || k == a.LegalKeyId || k == a.CheckKeyId));

        var aEvents = await factory.EventsAsync(a.Id, a.AdminKey);
        Assert.Equal(["IssueApiKey", "IssueApiKey", "CreateSite"], aEvents.Select(e => e.Action()));
        Assert.Empty(await factory.EventsAsync(a.Id, a.AdminKey, $"keyId={b.AdminKeyId}"));
    }

    [Fact]
    public async Task Filters_select_by_action_key_outcome_and_a_half_open_time_range()
    {
        var site = await factory.CreateAuditedSiteAsync(); // CreateSite and 2 × IssueApiKey at t0
        var t0 = factory.Time.GetUtcNow();
        using var legal = factory.Client(site.LegalKey);
        factory.Time.Advance(TimeSpan.FromMinutes(1));
        await legal.GetAsync($"/v1/sites/{site.Id}/keys"); // 403 at t0 + 1 min
        factory.Time.Advance(TimeSpan.FromMinutes(1));
        await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{NewSubjectId()}/history"); // 404 at t0 + 2 min
        var t2 = factory.Time.GetUtcNow();

        async Task<List<(string, int)>> Find(string query) =>
            [.. (await factory.EventsAsync(site.Id, site.AdminKey, query)).Select(e => (e.Action(), e.Outcome()))];
        static string Iso(DateTimeOffset at) => Uri.EscapeDataString(at.ToString("O"));

        Assert.Equal([("IssueApiKey", 201), ("IssueApiKey", 201)], await Find("action=IssueApiKey"));
        Assert.Equal([("GetSubjectHistory", 404), ("ListApiKeys", 403)], await Find($"keyId={site.LegalKeyId}"));
        Assert.Equal([("ListApiKeys", 403)], await Find("outcome=403"));
        Assert.Equal([("CreateSite", 201)], await Find("outcome=201&action=CreateSite"));
        Assert.Equal([("GetSubjectHistory", 404), ("ListApiKeys", 403)], await Find($"from={Iso(t0.AddMinutes(1))}&to={Iso(t2.AddMilliseconds(1))}&keyId={site.LegalKeyId}"));
        Assert.Equal([("ListApiKeys", 403)], await Find($"from={Iso(t0.AddMinutes(1))}&to={Iso(t2)}")); // to is exclusive
        Assert.Equal([("IssueApiKey", 201), ("IssueApiKey", 201), ("CreateSite", 201)], await Find($"to={Iso(t0.AddMinutes(1))}"));
        // A time with an offset, and a date alone (midnight UTC): the same instants.
        Assert.Equal([("ListApiKeys", 403)], await Find($"from={Uri.EscapeDataString(t0.AddMinutes(1).ToOffset(TimeSpan.FromHours(2)).ToString("yyyy-MM-ddTHH:mm:ss.fffzzz"))}&outcome=403"));
        Assert.Equal(3, (await Find($"from={t0:yyyy-MM-dd}&to={t0.AddDays(1):yyyy-MM-dd}&outcome=201")).Count);
        Assert.Empty(await Find("action=NoSuchAction"));
    }

    [Fact]
    public async Task Pages_follow_each_other_without_skipping_or_repeating_while_new_events_arrive()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        for (var i = 0; i < 7; i++)
        {
            await admin.GetAsync($"/v1/sites/{site.Id}");
        }

        var seen = new List<JsonObject>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await factory.LogsAsync(site.Id, site.AdminKey, "?limit=3" + (cursor is null ? "" : "&cursor=" + cursor));
            var items = page["items"]!.AsArray().Select(e => e!.AsObject()).ToList();
            seen.AddRange(items);
            cursor = page["nextCursor"]?.GetValue<string>();
            Assert.True(cursor is null || items.Count == 3);
            pages++;
            await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { name = "Shop " + pages }); // and each page read is a new event too
        }
        while (cursor is not null);

        var all = await factory.EventsAsync(site.Id, site.AdminKey);
        var start = all.FindIndex(e => e["id"]!.GetValue<string>() == seen[0]["id"]!.GetValue<string>());
        Assert.Equal(Ids(all.Skip(start)), Ids(seen)); // every event from the first page's newest down to the oldest, once each
        Assert.Equal(10, seen.Count); // 3 from site creation and 7 reads
        Assert.Equal(4, pages);
        Assert.Equal(2 * pages, start); // what arrived meanwhile, each read and each change, is newer than the first page
    }

    [Fact]
    public async Task Paging_keeps_its_filter()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        for (var i = 0; i < 5; i++)
        {
            await admin.GetAsync($"/v1/sites/{site.Id}/keys");
            await admin.GetAsync($"/v1/sites/{site.Id}");
        }

        var first = await factory.LogsAsync(site.Id, site.AdminKey, "?action=ListApiKeys&limit=2");
        var cursor = first["nextCursor"]!.GetValue<string>();
        var second = await factory.LogsAsync(site.Id, site.AdminKey, $"?action=ListApiKeys&limit=2&cursor={cursor}");
        var third = await factory.LogsAsync(site.Id, site.AdminKey, $"?action=ListApiKeys&limit=2&cursor={second["nextCursor"]!.GetValue<string>()}");

        var items = new[] { first, second, third }.SelectMany(p => p["items"]!.AsArray()).Select(e => e!.AsObject()).ToList();
        Assert.Equal(5, items.Count);
        Assert.All(items, e => Assert.Equal("ListApiKeys", e.Action()));
        Assert.Equal(5, Ids(items).Distinct().Count());
        Assert.Null(third["nextCursor"]?.GetValue<string>());
        Assert.Matches("^[A-Za-z0-9_-]+$", cursor); // base64url: safe in a query string as it is
    }

    [Fact]
    public async Task The_default_page_holds_100_events()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        for (var i = 0; i < 100; i++)
        {
            await admin.GetAsync($"/v1/sites/{site.Id}");
        }
        var page = await factory.LogsAsync(site.Id, site.AdminKey);
        Assert.Equal(100, page["items"]!.AsArray().Count);
        Assert.NotNull(page["nextCursor"]);
    }

    /// <summary>query string, field at fault.</summary>
    public static TheoryData<string, string> BadQueries => new()
    {
        { "limit=0", "limit" },
        { "limit=1001", "limit" },
        { "limit=-1", "limit" },
        { "limit=ten", "limit" },
        { "limit=1.5", "limit" },
        { "limit=", "limit" },
        { "limit=99999999999", "limit" },
        { "limit=1&limit=2", "limit" },
        { "outcome=ok", "outcome" },
        { "outcome=99", "outcome" },
        { "outcome=600", "outcome" },
        { "outcome=%2B200", "outcome" },
        { "from=yesterday", "from" },
        { "from=2026-13-01", "from" },
        { "from=2026-02-30T00:00:00Z", "from" },
        { "from=1700000000", "from" },
        { "from=2026-11-25T09:00:00+01:00", "from" }, // an unescaped '+' arrives as a space
        { "to=25.11.2026", "to" },
        { "to=2026-11-25T09:00:00Z%0A", "to" },
        { "from=2026-11-26&to=2026-11-25", "to" },
        { "from=2026-11-25&to=2026-11-25", "to" },
        { "cursor=not*base64", "cursor" },
        { "cursor=", "cursor" },
        { "cursor=aGVsbG8", "cursor" },
        { "cursor=YTEuLTEuMC4wMTlhYjVjMy0xZjRiLTdkMmUtOGMxYS0wMTIzNDU2Nzg5YWI", "cursor" },
        { "action=", "action" },
        { "action=Get%20Site", "action" },
        { "action=GetSite%0A", "action" },
        { "keyId=", "keyId" },
        { "keyId=key%2F1", "keyId" },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task A_bad_filter_is_a_400_naming_it_and_only_that_call_is_recorded(string query, string field)
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);

        foreach (var path in new[] { "logs", "logs/export" })
        {
            if (path == "logs/export" && field is "limit" or "cursor") continue; // the export takes no paging
            var before = await AuditRowsAsync(factory.DataDirectory);

            var problem = await AssertProblemAsync(await admin.GetAsync($"/v1/sites/{site.Id}/audit/{path}?{query}"), HttpStatusCode.BadRequest, "validation", field);

            Assert.Equal(before + 1, await AuditRowsAsync(factory.DataDirectory));
            var recorded = (await factory.EventsAsync(site.Id, site.AdminKey))[0];
            Assert.Equal((path == "logs" ? "GetAuditLogs" : "ExportAuditLogs", 400), (recorded.Action(), recorded.Outcome()));
            Assert.Equal(problem["requestId"]!.GetValue<string>(), recorded.RequestId());
        }
    }

    [Fact]
    public async Task Every_bad_filter_of_one_request_is_named_in_one_answer()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        var problem = await AssertProblemAsync(await admin.GetAsync($"/v1/sites/{site.Id}/audit/logs?limit=0&outcome=x&from=x&to=x&cursor=*&action=%20&keyId=%20"),
            HttpStatusCode.BadRequest, "validation");
        Assert.Equal(["action", "cursor", "from", "keyId", "limit", "outcome", "to"], problem["errors"]!.AsObject().Select(e => e.Key).Order());
    }

    [Fact]
    public async Task The_export_is_an_ndjson_download_of_every_matching_event()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        for (var i = 0; i < 150; i++)
        {
            await admin.GetAsync($"/v1/sites/{site.Id}");
        }

        var response = await admin.GetAsync($"/v1/sites/{site.Id}/audit/logs/export");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal($"audit-{site.Id}-{factory.Time.GetUtcNow():yyyyMMdd}.ndjson", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("\n", text);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(153, lines.Length);
        var events = lines.Select(line => JsonNode.Parse(line)!.AsObject()).ToList();
        Assert.Equal(Ids(await factory.EventsAsync(site.Id, site.AdminKey)).Skip(1), Ids(events)); // the same events, newest first
        Assert.Equal("CreateSite", events[^1].Action());

        var filtered = await admin.GetStringAsync($"/v1/sites/{site.Id}/audit/logs/export?action=IssueApiKey&outcome=201");
        Assert.Equal(["IssueApiKey", "IssueApiKey"], filtered.TrimEnd('\n').Split('\n').Select(l => JsonNode.Parse(l)!.AsObject().Action()));
        var none = await admin.GetAsync($"/v1/sites/{site.Id}/audit/logs/export?action=Nothing");
        Assert.Equal((HttpStatusCode.OK, ""), (none.StatusCode, await none.Content.ReadAsStringAsync()));
    }

    [Theory]
    [InlineData("PUT", "logs")]
    [InlineData("PATCH", "logs")]
    [InlineData("DELETE", "logs")]
    [InlineData("POST", "logs")]
    [InlineData("POST", "logs/export")]
    public async Task Nothing_can_write_or_change_audit_events(string method, string path)
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        var before = Ids(await factory.EventsAsync(site.Id, site.AdminKey));

        var request = new HttpRequestMessage(new HttpMethod(method), $"/v1/sites/{site.Id}/audit/{path}")
        {
            Content = method == "DELETE" ? null : JsonContent.Create(new { action = "Forged", outcome = 200 }),
        };
        await AssertProblemAsync(await admin.SendAsync(request), HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        await AssertProblemAsync(await admin.DeleteAsync($"/v1/sites/{site.Id}/audit/logs/{before[0]}"), HttpStatusCode.NotFound, "not-found");

        var after = Ids(await factory.EventsAsync(site.Id, site.AdminKey));
        Assert.Equal(before, after.Skip(after.Count - before.Count)); // every event still there, unchanged in order; only reads were added
        Assert.DoesNotContain(await factory.EventsAsync(site.Id, site.AdminKey), e => e.Action() == "Forged");
    }
}
