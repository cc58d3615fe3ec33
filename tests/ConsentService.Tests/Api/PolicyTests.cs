using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

public sealed class PolicyTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private async Task<JsonObject> TemplateAsync()
    {
        using var client = factory.CreateClient();
        return await ReadJsonAsync(await client.GetAsync("/v1/policy-template"));
    }

    private async Task<JsonObject> PublishAsync(TestSite site, JsonObject body)
    {
        using var admin = factory.ClientWithKey(site.AdminKey);
        var response = await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", body);
        var published = await ReadJsonAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/v1/sites/{site.Id}/policies/{published["version"]}", response.Headers.Location?.OriginalString);
        return published;
    }

    [Fact]
    public async Task Every_site_starts_with_the_default_policy_readable_without_a_key()
    {
        var site = await factory.CreateSiteAsync();
        using var anonymous = factory.CreateClient();

        var list = await ReadArrayAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies"));
        var summary = Assert.Single(list)!;
        Assert.Equal(1, summary["version"]!.GetValue<int>());
        Assert.True(summary["material"]!.GetValue<bool>());
        Assert.Matches("^[0-9a-f]{64}$", summary["contentHash"]!.GetValue<string>());

        var full = await ReadJsonAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies/1"));
        var purposes = full["purposes"]!.AsArray();
        Assert.Equal(["necessary", "analytics", "marketing", "model_improvement"], purposes.Select(p => p!["id"]!.GetValue<string>()));
        Assert.True(purposes[0]!["required"]!.GetValue<bool>());
        Assert.All(purposes.Skip(1), p =>
        {
            Assert.False(p!["required"]!.GetValue<bool>());
            Assert.Equal("consent", p["legalBasis"]!.GetValue<string>());
        });
        var analyticsVendors = purposes[1]!["vendors"]!.AsArray().Select(v => v!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("PostHog", analyticsVendors);
        Assert.Contains("Sentry", analyticsVendors);
        Assert.Contains("Hotjar", purposes[2]!["vendors"]!.AsArray().Select(v => v!["name"]!.GetValue<string>()));
        Assert.Equal("Reject all", full["texts"]!["en"]!["rejectAll"]!.GetValue<string>());
        Assert.Equal(summary["contentHash"]!.GetValue<string>(), full["contentHash"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_content_hash_depends_on_the_content_only()
    {
        var a = await factory.CreateSiteAsync();
        var b = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var hashA = (await ReadJsonAsync(await client.GetAsync($"/v1/sites/{a.Id}/policies/1")))["contentHash"]!.GetValue<string>();
        var hashB = (await ReadJsonAsync(await client.GetAsync($"/v1/sites/{b.Id}/policies/1")))["contentHash"]!.GetValue<string>();
        Assert.Equal(hashA, hashB);

        var reworded = await TemplateAsync();
        reworded["texts"]!["en"]!["title"] = "Cookies, and your choice";
        var published = await PublishAsync(a, reworded);
        Assert.NotEqual(hashA, published["contentHash"]!.GetValue<string>());
    }

    [Fact]
    public async Task Wording_changes_are_not_material_and_purpose_or_vendor_changes_are()
    {
        var site = await factory.CreateSiteAsync();

        var reworded = await TemplateAsync();
        reworded["texts"]!["en"]!["description"] = "Clearer words, same choices.";
        var v2 = await PublishAsync(site, reworded);
        Assert.Equal(2, v2["version"]!.GetValue<int>());
        Assert.False(v2["material"]!.GetValue<bool>());

        var newVendor = await TemplateAsync();
        newVendor["purposes"]![1]!["vendors"]!.AsArray().Add(new JsonObject { ["name"] = "Plausible", ["cookies"] = new JsonArray() });
        var v3 = await PublishAsync(site, newVendor);
        Assert.Equal(3, v3["version"]!.GetValue<int>());
        Assert.True(v3["material"]!.GetValue<bool>());

        var sameAsV3 = newVendor.DeepClone().AsObject();
        sameAsV3["texts"]!["en"]!["title"] = "Privacy choices";
        sameAsV3["material"] = true; // the publisher decides the wording change needs a new consent
        Assert.True((await PublishAsync(site, sameAsV3))["material"]!.GetValue<bool>());

        var withoutMarketing = await TemplateAsync();
        withoutMarketing["purposes"]!.AsArray().RemoveAt(2);
        foreach (var (_, texts) in withoutMarketing["texts"]!.AsObject()) texts!["purposes"]!.AsObject().Remove("marketing");
        withoutMarketing["material"] = false; // the publisher may overrule the default
        Assert.False((await PublishAsync(site, withoutMarketing))["material"]!.GetValue<bool>());

        using var anonymous = factory.CreateClient();
        var versions = await ReadArrayAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies"));
        Assert.Equal([1, 2, 3, 4, 5], versions.Select(v => v!["version"]!.GetValue<int>()));
        var v5 = await ReadJsonAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies/5"));
        Assert.DoesNotContain("marketing", v5["purposes"]!.AsArray().Select(p => p!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Published_versions_cannot_be_changed_or_removed()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var before = await (await admin.GetAsync($"/v1/sites/{site.Id}/policies/1")).Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await admin.PutAsJsonAsync($"/v1/sites/{site.Id}/policies/1", await TemplateAsync())).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await admin.DeleteAsync($"/v1/sites/{site.Id}/policies/1")).StatusCode);
        Assert.Equal(before, await (await admin.GetAsync($"/v1/sites/{site.Id}/policies/1")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Unknown_versions_and_sites_are_404()
    {
        var site = await factory.CreateSiteAsync();
        using var anonymous = factory.CreateClient();
        await AssertProblemAsync(await anonymous.GetAsync($"/v1/sites/{site.Id}/policies/9"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await anonymous.GetAsync("/v1/sites/site_nope/policies"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await anonymous.GetAsync("/v1/sites/site_nope/policies/1"), HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task A_material_version_makes_earlier_consent_stale_and_a_wording_change_does_not()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        using var checker = factory.ClientWithKey(site.CheckKey);
        async Task<bool> NeedsReconsent() =>
            (await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent")))["needsReconsent"]!.GetValue<bool>();

        Assert.False(await NeedsReconsent());
        var reworded = await TemplateAsync();
        reworded["texts"]!["en"]!["title"] = "Your privacy";
        await PublishAsync(site, reworded);
        Assert.False(await NeedsReconsent());

        var newPurpose = await TemplateAsync();
        newPurpose["purposes"]!.AsArray().Add(new JsonObject { ["id"] = "personalisation", ["required"] = false, ["legalBasis"] = "consent" });
        foreach (var (_, texts) in newPurpose["texts"]!.AsObject())
        {
            texts!["purposes"]!["personalisation"] = new JsonObject { ["title"] = "Personalisation", ["description"] = "Tailors content to you." };
        }
        await PublishAsync(site, newPurpose);
        Assert.True(await NeedsReconsent());

        var state = await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent"));
        Assert.Equal(3, state["currentPolicyVersion"]!.GetValue<int>());
        Assert.Equal(1, state["policyVersion"]!.GetValue<int>());
        Assert.False(state["purposes"]!["personalisation"]!["granted"]!.GetValue<bool>());
        Assert.True(state["purposes"]!["analytics"]!["granted"]!.GetValue<bool>()); // still as given; the site asks again

        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 3, method = "custom", purposes = new { personalisation = true } });
        Assert.False(await NeedsReconsent());
    }
}
