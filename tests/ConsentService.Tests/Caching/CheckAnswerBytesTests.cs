using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Caching;

/// <summary>
/// The check answers from kept UTF-8 bytes: the same bytes and headers as a freshly made answer, and
/// never past what changes it (a write to the site or its policies, the time thresholds).
/// </summary>
public sealed class CheckAnswerBytesTests : IDisposable
{
    private readonly ConsentApiFactory _app = new();

    public void Dispose() => _app.Dispose();

    private static string CheckPath(TestSite site, string subject, string? purpose = null) =>
        $"/v1/sites/{site.Id}/subjects/{subject}/consent" + (purpose is null ? "" : $"?purpose={purpose}");

    [Fact]
    public async Task A_kept_answer_has_the_bytes_and_headers_of_a_fresh_one()
    {
        var site = await _app.CreateSiteAsync();
        var subject = NewSubjectId();
        await _app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        using var checker = _app.ClientWithKey(site.CheckKey);

        foreach (var purpose in new[] { null, "analytics" })
        {
            using var made = await checker.GetAsync(CheckPath(site, subject, purpose));
            using var kept = await checker.GetAsync(CheckPath(site, subject, purpose));
            // The same answer read through to the store is made afresh, never taken from the kept bytes.
            using var fresh = new HttpRequestMessage(HttpMethod.Get, CheckPath(site, subject, purpose));
            fresh.Headers.CacheControl = new() { NoCache = true };
            using var readThrough = await checker.SendAsync(fresh);
            var body = await made.Content.ReadAsByteArrayAsync();
            foreach (var response in new[] { made, kept, readThrough })
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(body, await response.Content.ReadAsByteArrayAsync());
                Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType!.ToString());
                Assert.Equal(body.Length, response.Content.Headers.ContentLength);
                Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
                Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
                Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
                Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
                Assert.Equal("default-src 'none'; frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
            }
            var json = JsonNode.Parse(body)!.AsObject();
            if (purpose is null)
            {
                Assert.Equal(subject, json["subjectId"]!.GetValue<string>());
                Assert.True(json["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
            }
            else
            {
                Assert.Equal(["purpose", "granted", "needsReconsent"], json.Select(p => p.Key));
                Assert.True(json["granted"]!.GetValue<bool>());
            }
        }
    }

    [Fact]
    public async Task A_kept_answer_ends_at_the_exact_moment_the_consent_reaches_the_maximum_age()
    {
        var site = await _app.CreateSiteAsync(new { name = "Short-lived", consentMaxAgeDays = 30, refusalReaskDays = 30 });
        var subject = NewSubjectId();
        await _app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        using var checker = _app.ClientWithKey(site.CheckKey);
        async Task<bool> GrantedAsync() => (await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject, "analytics"))))["granted"]!.GetValue<bool>();

        Assert.True(await GrantedAsync());
        _app.Time.Advance(TimeSpan.FromDays(30));
        Assert.True(await GrantedAsync()); // exactly 30 days old: still within the maximum age
        _app.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(await GrantedAsync());
    }

    [Fact]
    public async Task A_kept_answer_is_not_reused_after_a_material_policy_or_a_site_change()
    {
        var site = await _app.CreateSiteAsync();
        var subject = NewSubjectId();
        await _app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        using var checker = _app.ClientWithKey(site.CheckKey);
        using var admin = _app.ClientWithKey(site.AdminKey);
        async Task<JsonObject> StateAsync() => await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject)));

        Assert.False((await StateAsync())["needsReconsent"]!.GetValue<bool>());
        Assert.False((await StateAsync())["needsReconsent"]!.GetValue<bool>()); // kept

        _app.Time.Advance(TimeSpan.FromDays(100));
        await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { consentMaxAgeDays = 90 }));
        Assert.True((await StateAsync())["needsReconsent"]!.GetValue<bool>()); // the site changed: older than 90 days now

        var other = NewSubjectId();
        await _app.RecordAsync(site.Id, new { subjectId = other, policyVersion = 1, method = "accept_all" });
        async Task<JsonObject> OtherAsync() => await ReadJsonAsync(await checker.GetAsync(CheckPath(site, other)));
        Assert.False((await OtherAsync())["needsReconsent"]!.GetValue<bool>());
        Assert.False((await OtherAsync())["needsReconsent"]!.GetValue<bool>()); // kept
        var template = await ReadJsonAsync(await checker.GetAsync("/v1/policy-template"));
        template["purposes"]![1]!["vendors"]!.AsArray().Add(new JsonObject { ["name"] = "Plausible" });
        await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", template), HttpStatusCode.Created);
        var after = await OtherAsync();
        Assert.True(after["needsReconsent"]!.GetValue<bool>());
        Assert.Equal(2, after["currentPolicyVersion"]!.GetValue<int>());
    }
}
