using System.Net;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

public sealed class ConsentCheckTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private static string CheckPath(TestSite site, string subject, string? purpose = null) =>
        $"/v1/sites/{site.Id}/subjects/{subject}/consent" + (purpose is null ? "" : $"?purpose={purpose}");

    [Fact]
    public async Task An_unknown_subject_has_nothing_granted_and_must_be_asked()
    {
        var site = await factory.CreateSiteAsync();
        using var checker = factory.ClientWithKey(site.CheckKey);
        var subject = NewSubjectId();
        var state = await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject)));

        Assert.Equal(subject, state["subjectId"]!.GetValue<string>());
        Assert.Null(state["policyVersion"]);
        Assert.Equal(1, state["currentPolicyVersion"]!.GetValue<int>());
        Assert.True(state["needsReconsent"]!.GetValue<bool>());
        Assert.Equal(["necessary", "analytics", "marketing", "model_improvement"], state["purposes"]!.AsObject().Select(p => p.Key));
        Assert.All(state["purposes"]!.AsObject(), p => Assert.False(p.Value!["granted"]!.GetValue<bool>()));
        Assert.Equal(0, await factory.CountRowsAsync("consents", site.Id)); // a check writes nothing
    }

    [Fact]
    public async Task A_check_reports_each_purpose_and_one_purpose_on_request()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        var recorded = await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "custom", purposes = new { analytics = true } });
        using var checker = factory.ClientWithKey(site.CheckKey);

        var state = await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject)));
        Assert.False(state["needsReconsent"]!.GetValue<bool>());
        Assert.Equal(1, state["policyVersion"]!.GetValue<int>());
        Assert.Equal("custom", state["method"]!.GetValue<string>());
        Assert.True(state["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
        Assert.False(state["purposes"]!["marketing"]!["granted"]!.GetValue<bool>());
        Assert.Equal(recorded["recordedAt"]!.GetValue<DateTimeOffset>(), state["purposes"]!["analytics"]!["recordedAt"]!.GetValue<DateTimeOffset>());

        var analytics = await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject, "analytics")));
        Assert.Equal("analytics", analytics["purpose"]!.GetValue<string>());
        Assert.True(analytics["granted"]!.GetValue<bool>());
        Assert.False(analytics["needsReconsent"]!.GetValue<bool>());
        Assert.False((await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject, "marketing"))))["granted"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_withdrawal_is_seen_by_the_very_next_check()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        using var checker = factory.ClientWithKey(site.CheckKey);

        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        for (var i = 0; i < 3; i++) // warm the read cache
        {
            Assert.True((await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject, "marketing"))))["granted"]!.GetValue<bool>());
        }
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });
        Assert.False((await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject, "marketing"))))["granted"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Consent_older_than_the_site_maximum_age_no_longer_counts()
    {
        var site = await factory.CreateSiteAsync(new { name = "Short-lived", consentMaxAgeDays = 30, refusalReaskDays = 30 });
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        using var checker = factory.ClientWithKey(site.CheckKey);

        factory.Time.Advance(TimeSpan.FromDays(29));
        var fresh = await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject)));
        Assert.False(fresh["needsReconsent"]!.GetValue<bool>());
        Assert.True(fresh["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());

        factory.Time.Advance(TimeSpan.FromDays(2));
        var expired = await ReadJsonAsync(await checker.GetAsync(CheckPath(site, subject)));
        Assert.True(expired["needsReconsent"]!.GetValue<bool>());
        Assert.False(expired["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
        Assert.True(expired["purposes"]!["necessary"]!["granted"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_refusal_is_remembered_until_the_re_ask_interval()
    {
        var site = await factory.CreateSiteAsync(new { name = "Re-ask", consentMaxAgeDays = 395, refusalReaskDays = 182 });
        var refused = NewSubjectId();
        var accepted = NewSubjectId();
        await factory.RecordAsync(site.Id, new { subjectId = refused, policyVersion = 1, method = "reject_all" });
        await factory.RecordAsync(site.Id, new { subjectId = accepted, policyVersion = 1, method = "accept_all" });
        using var checker = factory.ClientWithKey(site.CheckKey);

        factory.Time.Advance(TimeSpan.FromDays(100));
        Assert.False((await ReadJsonAsync(await checker.GetAsync(CheckPath(site, refused))))["needsReconsent"]!.GetValue<bool>());

        factory.Time.Advance(TimeSpan.FromDays(90));
        Assert.True((await ReadJsonAsync(await checker.GetAsync(CheckPath(site, refused))))["needsReconsent"]!.GetValue<bool>());
        Assert.False((await ReadJsonAsync(await checker.GetAsync(CheckPath(site, accepted))))["needsReconsent"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Checks_need_a_key_of_the_site()
    {
        var site = await factory.CreateSiteAsync();
        using var anonymous = factory.CreateClient();
        await AssertProblemAsync(await anonymous.GetAsync(CheckPath(site, NewSubjectId())), HttpStatusCode.Unauthorized, "unauthorized");
    }
}
