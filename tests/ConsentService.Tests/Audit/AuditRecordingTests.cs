using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using static ConsentService.Tests.Audit.AuditApi;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Audit;

/// <summary>What the audit log records of each secret-key call, and what it leaves out.</summary>
public sealed class AuditRecordingTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    /// <summary>action, role, key id, outcome, target, method and path of one event.</summary>
    private sealed record Seen(string Action, string Role, string? KeyId, int Outcome, string Target, string Method, string Path);

    private static Seen Describe(JsonObject e) => new(
        e.Action(), e["role"]!.GetValue<string>(), e.KeyId(), e.Outcome(),
        string.Join(",", e.Target().OrderBy(t => t.Key).Select(t => $"{t.Key}={t.Value}")),
        e["method"]!.GetValue<string>(), e["path"]!.GetValue<string>());

    [Fact]
    public async Task Every_kind_of_secret_key_call_is_recorded_with_who_what_target_outcome_and_time()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var s = $"/v1/sites/{site.Id}";
        using var admin = factory.Client(site.AdminKey);
        using var legal = factory.Client(site.LegalKey);
        using var op = factory.Client(ConsentApiFactory.OperatorKey);
        const string subject = "user:1042";

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(s)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync(s, new { name = "Renamed shop" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"{s}/keys")).StatusCode);
        var template = await (await admin.GetAsync("/v1/policy-template")).Content.ReadAsStringAsync(); // public: not recorded
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync($"{s}/policies", new StringContent(template, Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostConsentAsync(site.Id,
            new { subjectId = subject, policyVersion = 1, method = "api", purposes = new { model_improvement = true } }, "application/json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"{s}/subjects/{subject}/history")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await op.GetAsync(s)).StatusCode);
        factory.Time.Advance(TimeSpan.FromSeconds(90));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{s}/keys/{site.CheckKeyId}")).StatusCode);

        var events = await factory.EventsAsync(site.Id, site.AdminKey);
        var pseudonym = await SubjectCommitmentAsync(factory.DatabasePath, site.Id, subject);

        Assert.Equal(
        [
            new Seen("RevokeApiKey", "admin", site.AdminKeyId, 204, $"keyId={site.CheckKeyId}", "DELETE", $"{s}/keys/{site.CheckKeyId}"),
            new Seen("GetSite", "operator", null, 200, "", "GET", s),
            new Seen("GetSubjectHistory", "legal", site.LegalKeyId, 200, $"subject={pseudonym}", "GET", $"{s}/subjects/~subject/history"),
            new Seen("RecordConsent", "admin", site.AdminKeyId, 201, "", "POST", $"{s}/consents"),
            new Seen("PublishPolicy", "admin", site.AdminKeyId, 201, "", "POST", $"{s}/policies"),
            new Seen("ListApiKeys", "admin", site.AdminKeyId, 200, "", "GET", $"{s}/keys"),
            new Seen("UpdateSite", "admin", site.AdminKeyId, 200, "", "PATCH", s),
            new Seen("GetSite", "admin", site.AdminKeyId, 200, "", "GET", s),
            new Seen("IssueApiKey", "admin", site.AdminKeyId, 201, "", "POST", $"{s}/keys"),
            new Seen("IssueApiKey", "admin", site.AdminKeyId, 201, "", "POST", $"{s}/keys"),
            new Seen("CreateSite", "operator", null, 201, "", "POST", "/v1/sites"),
        ], events.Select(Describe));

        Assert.All(events, e => Assert.Equal(site.Id, e["siteId"]!.GetValue<string>()));
        Assert.Equal(events.Count, events.Select(e => e.RequestId()).Distinct().Count());
        Assert.All(events, e => Assert.False(string.IsNullOrWhiteSpace(e.RequestId())));
        Assert.Equal(events.Count, events.Select(e => e["id"]!.GetValue<string>()).Distinct().Count());
        Assert.All(events, e => Assert.Equal(7, Guid.Parse(e["id"]!.GetValue<string>()).Version));
        Assert.Equal(factory.Time.GetUtcNow(), events[0]["at"]!.GetValue<DateTimeOffset>());
        Assert.Equal(factory.Time.GetUtcNow().AddSeconds(-90), events[1]["at"]!.GetValue<DateTimeOffset>());
    }

    [Fact]
    public async Task Reading_the_audit_log_is_itself_recorded()
    {
        var site = await factory.CreateAuditedSiteAsync();
        await factory.LogsAsync(site.Id, site.AdminKey, "?action=CreateSite");
        using (var admin = factory.Client(site.AdminKey))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/v1/sites/{site.Id}/audit/logs/export")).StatusCode);
        }

        var events = await factory.EventsAsync(site.Id, site.AdminKey);

        Assert.Equal(new Seen("ExportAuditLogs", "admin", site.AdminKeyId, 200, "", "GET", $"/v1/sites/{site.Id}/audit/logs/export"), Describe(events[0]));
        Assert.Equal(new Seen("GetAuditLogs", "admin", site.AdminKeyId, 200, "", "GET", $"/v1/sites/{site.Id}/audit/logs"), Describe(events[1]));
    }

    [Fact]
    public async Task A_refusal_of_a_weaker_key_is_recorded_under_the_request_id_its_problem_quotes()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var check = factory.Client(site.CheckKey);
        var subject = NewSubjectId();

        var problem = await AssertProblemAsync(await check.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history"), HttpStatusCode.Forbidden, "forbidden");

        var refused = (await factory.EventsAsync(site.Id, site.AdminKey))[0];
        Assert.Equal(new Seen("GetSubjectHistory", "check", site.CheckKeyId, 403, "subject=unknown", "GET", $"/v1/sites/{site.Id}/subjects/~subject/history"),
            Describe(refused));
        Assert.Equal(ProblemRequestId(problem), refused.RequestId());
    }

    [Fact]
    public async Task A_failed_call_is_recorded_with_its_status_and_the_problems_request_id()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);

        var invalid = await AssertProblemAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { auditRetentionDays = 30 }),
            HttpStatusCode.BadRequest, "validation", "auditRetentionDays");
        // The framework throws on a malformed body; the exception handler answers, and the event still gets that answer's status.
        var malformed = await AssertProblemAsync(await admin.PatchAsync($"/v1/sites/{site.Id}", new StringContent("{\"name\":", Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, "invalid-body");
        var missing = await AssertProblemAsync(await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/key_nope"), HttpStatusCode.NotFound, "not-found");

        var events = await factory.EventsAsync(site.Id, site.AdminKey);
        Assert.Equal(
            [("RevokeApiKey", 404, ProblemRequestId(missing)), ("UpdateSite", 400, ProblemRequestId(malformed)), ("UpdateSite", 400, ProblemRequestId(invalid))],
            events.Take(3).Select(e => (e.Action(), e.Outcome(), e.RequestId())));
        Assert.Equal(new Dictionary<string, string> { ["keyId"] = "key_nope" }, events[0].Target());
    }

    [Fact]
    public async Task Consent_checks_are_not_recorded_for_any_key()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var before = await AuditRowsAsync(factory.DataDirectory, site.Id);
        var subject = NewSubjectId();

        foreach (var key in new[] { site.CheckKey, site.LegalKey, site.AdminKey, ConsentApiFactory.OperatorKey })
        {
            using var client = factory.Client(key);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent?purpose=analytics")).StatusCode);
        }

        Assert.Equal(before, await AuditRowsAsync(factory.DataDirectory, site.Id));
    }

    [Fact]
    public async Task Calls_without_an_accepted_key_are_not_recorded()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var before = await AuditRowsAsync(factory.DataDirectory);
        var history = $"/v1/sites/{site.Id}/subjects/{NewSubjectId()}/history";

        using (var anonymous = factory.Client(null))
        {
            await AssertProblemAsync(await anonymous.GetAsync(history), HttpStatusCode.Unauthorized, "unauthorized");
            await AssertProblemAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/audit/logs"), HttpStatusCode.Unauthorized, "unauthorized");
            Assert.Equal(HttpStatusCode.Created, (await anonymous.PostConsentAsync(site.Id, new { policyVersion = 1, method = "accept_all" })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"/v1/sites/{site.Id}/policies")).StatusCode);
        }
        using (var unknown = factory.Client("csk_not-a-key-of-anyone-0000000000000000"))
        {
            await AssertProblemAsync(await unknown.GetAsync(history), HttpStatusCode.Unauthorized, "unauthorized");
            await AssertProblemAsync(await unknown.PostConsentAsync(site.Id, new { policyVersion = 1, method = "accept_all" }), HttpStatusCode.Unauthorized, "unauthorized");
        }
        using (var op = factory.Client(ConsentApiFactory.OperatorKey))
        {
            // Nothing to file these under: the first names no site, the second a site that does not exist.
            await AssertProblemAsync(await op.PostAsJsonAsync("/v1/sites", new { name = "" }), HttpStatusCode.BadRequest, "validation", "name");
            await AssertProblemAsync(await op.GetAsync("/v1/sites/site_none"), HttpStatusCode.NotFound, "not-found");
        }
        using (var admin = factory.Client(site.AdminKey))
        {
            // A key on a public endpoint: nothing secret was read.
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/v1/sites/{site.Id}/policies/1")).StatusCode);
        }

        Assert.Equal(before, await AuditRowsAsync(factory.DataDirectory));
    }

    [Fact]
    public async Task The_client_ip_is_kept_only_as_its_network_prefix()
    {
        var site = await factory.CreateAuditedSiteAsync();

        foreach (var address in new[] { "203.0.113.77", "2001:db8:85a3:8d3:1319:8a2e:370:7348", "::ffff:198.51.100.23" })
        {
            var context = await factory.Server.SendAsync(c =>
            {
                c.Request.Method = HttpMethods.Get;
                c.Request.Path = $"/v1/sites/{site.Id}";
                c.Request.Headers.Authorization = "Bearer " + site.AdminKey;
                c.Connection.RemoteIpAddress = IPAddress.Parse(address);
            });
            Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        }

        var events = await factory.EventsAsync(site.Id, site.AdminKey, "action=GetSite");
        Assert.Equal(["198.51.100.0/24", "2001:db8:85a3::/48", "203.0.113.0/24"], events.Select(e => e["clientIp"]!.GetValue<string>()));
        var text = (await factory.EventsAsync(site.Id, site.AdminKey)).Select(e => e.ToJsonString()).Aggregate((a, b) => a + b);
        Assert.DoesNotContain("203.0.113.77", text);
        Assert.DoesNotContain("1319:8a2e", text);
    }

    [Fact]
    public async Task A_request_over_the_body_limit_is_recorded_with_413()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        var body = new StringContent(new string(' ', 300 * 1024) + "{}", Encoding.UTF8, "application/json");

        await AssertProblemAsync(await admin.PostAsync($"/v1/sites/{site.Id}/policies", body), HttpStatusCode.RequestEntityTooLarge, "payload-too-large");

        var events = await factory.EventsAsync(site.Id, site.AdminKey);
        Assert.Equal(("PublishPolicy", 413), (events[0].Action(), events[0].Outcome()));
    }

    [Fact]
    public async Task Events_hold_no_request_or_response_bodies()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);
        const string marker = "very-personal-marker";
        Assert.Equal(HttpStatusCode.Created, (await admin.PostConsentAsync(site.Id,
            new { subjectId = "user:" + marker, policyVersion = 1, method = "api", purposes = new { analytics = true } }, "application/json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { name = marker })).StatusCode);

        using var raw = factory.Client(site.AdminKey);
        var text = await raw.GetStringAsync($"/v1/sites/{site.Id}/audit/logs");
        Assert.DoesNotContain(marker, text);
        Assert.DoesNotContain(site.AdminKey, text);
        Assert.Contains("\"RecordConsent\"", text);
    }

    [Fact]
    public async Task Events_serialise_with_every_field_and_null_for_absent_ones()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var created = (await factory.EventsAsync(site.Id, site.AdminKey, "action=CreateSite")).Single();

        Assert.Equal(
            ["id", "siteId", "at", "keyId", "role", "action", "target", "requestId", "outcome", "clientIp", "method", "path", "deleted"],
            created.Select(p => p.Key));
        Assert.Null(created["keyId"]);
        Assert.Equal("operator", created["role"]!.GetValue<string>());
        Assert.Empty(created.Target());
    }

    private static string ProblemRequestId(JsonObject problem) => problem["requestId"]!.GetValue<string>();
}
