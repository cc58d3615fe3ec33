using System.Net;
using System.Net.Http.Json;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

public sealed class SiteAndKeyTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    [Fact]
    public async Task The_operator_creates_a_site_with_an_admin_key_and_the_default_policy()
    {
        using var op = factory.OperatorClient();
        var response = await op.PostAsJsonAsync("/v1/sites", new
        {
            name = "Shop",
            allowedOrigins = new[] { "https://Shop.Example/", "https://shop.example" },
            defaultLocale = "de",
            jurisdictionMode = "ccpa",
        });
        var created = await ReadJsonAsync(response, HttpStatusCode.Created);
        var id = created["id"]!.GetValue<string>();

        Assert.Equal($"/v1/sites/{id}", response.Headers.Location?.OriginalString);
        Assert.Matches("^site_[A-Za-z0-9_-]{16}$", id);
        Assert.Equal(["https://shop.example"], created["site"]!["allowedOrigins"]!.AsArray().Select(o => o!.GetValue<string>()));
        Assert.Equal("ccpa", created["site"]!["jurisdictionMode"]!.GetValue<string>());
        Assert.Equal(395, created["site"]!["consentMaxAgeDays"]!.GetValue<int>());
        Assert.Equal(182, created["site"]!["refusalReaskDays"]!.GetValue<int>());
        Assert.Equal(1826, created["site"]!["retentionDays"]!.GetValue<int>());
        Assert.Equal(730, created["site"]!["auditRetentionDays"]!.GetValue<int>());
        Assert.Equal("admin", created["adminKey"]!["role"]!.GetValue<string>());
        Assert.StartsWith("csk_", created["adminKey"]!["key"]!.GetValue<string>());
        Assert.Equal(1, created["policyVersion"]!.GetValue<int>());

        using var admin = factory.ClientWithKey(created["adminKey"]!["key"]!.GetValue<string>());
        var site = await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{id}"));
        Assert.Equal("Shop", site["name"]!.GetValue<string>());
        Assert.Equal("de", site["defaultLocale"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_admin_patches_only_the_fields_sent()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);

        var patched = await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { jurisdictionMode = "auto", consentMaxAgeDays = 180, auditRetentionDays = 2555 }));
        Assert.Equal("auto", patched["jurisdictionMode"]!.GetValue<string>());
        Assert.Equal(180, patched["consentMaxAgeDays"]!.GetValue<int>());
        Assert.Equal("Test shop", patched["name"]!.GetValue<string>());
        Assert.Equal("https://shop.example", patched["allowedOrigins"]![0]!.GetValue<string>());

        var read = await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}"));
        Assert.Equal("auto", read["jurisdictionMode"]!.GetValue<string>());
        Assert.Equal(2555, read["auditRetentionDays"]!.GetValue<int>());
    }

    [Fact]
    public async Task Keys_are_shown_once_listed_without_secrets_and_refused_at_once_after_revocation()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var issued = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/keys", new { role = "check", label = "product back end" }), HttpStatusCode.Created);
        var secret = issued["key"]!.GetValue<string>();
        var keyId = issued["id"]!.GetValue<string>();

        var listText = await (await admin.GetAsync($"/v1/sites/{site.Id}/keys")).Content.ReadAsStringAsync();
        Assert.DoesNotContain(secret, listText);
        var listed = await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/keys"));
        var entry = listed.Single(k => k!["id"]!.GetValue<string>() == keyId)!;
        Assert.Equal("check", entry["role"]!.GetValue<string>());
        Assert.Equal("product back end", entry["label"]!.GetValue<string>());
        Assert.Equal("csk_…" + secret[^4..], entry["hint"]!.GetValue<string>());
        Assert.Null(entry["revokedAt"]);
        Assert.Equal(4, listed.Count); // initial admin, legal, check from CreateSiteAsync, and this one

        using var checker = factory.ClientWithKey(secret);
        var subject = $"/v1/sites/{site.Id}/subjects/{NewSubjectId()}/consent";
        Assert.Equal(HttpStatusCode.OK, (await checker.GetAsync(subject)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{keyId}")).StatusCode);
        await AssertProblemAsync(await checker.GetAsync(subject), HttpStatusCode.Unauthorized, "unauthorized");
        var after = await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/keys"));
        Assert.NotNull(after.Single(k => k!["id"]!.GetValue<string>() == keyId)!["revokedAt"]);
    }

    [Fact]
    public async Task Roles_nest_admin_over_legal_over_check()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "reject_all" });
        var check = $"/v1/sites/{site.Id}/subjects/{subject}/consent";
        var history = $"/v1/sites/{site.Id}/subjects/{subject}/history";
        var keys = $"/v1/sites/{site.Id}/keys";

        using var checker = factory.ClientWithKey(site.CheckKey);
        using var legal = factory.ClientWithKey(site.LegalKey);
        using var admin = factory.ClientWithKey(site.AdminKey);

        Assert.Equal(HttpStatusCode.OK, (await checker.GetAsync(check)).StatusCode);
        await AssertProblemAsync(await checker.GetAsync(history), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await checker.GetAsync(keys), HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync(check)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync(history)).StatusCode);
        await AssertProblemAsync(await legal.GetAsync(keys), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await legal.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", new { }), HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(check)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(history)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(keys)).StatusCode);
    }

    [Fact]
    public async Task Secret_endpoints_answer_401_without_a_valid_key()
    {
        var site = await factory.CreateSiteAsync();
        using var anonymous = factory.CreateClient();
        var response = await anonymous.GetAsync($"/v1/sites/{site.Id}/keys");
        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);

        using var wrong = factory.ClientWithKey("csk_" + new string('a', 43));
        await AssertProblemAsync(await wrong.GetAsync($"/v1/sites/{site.Id}/keys"), HttpStatusCode.Unauthorized, "unauthorized");
        using var siteAdminAsOperator = factory.ClientWithKey(site.AdminKey);
        await AssertProblemAsync(await siteAdminAsOperator.PostAsJsonAsync("/v1/sites", new { name = "x" }), HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task A_key_of_one_site_finds_nothing_of_another()
    {
        var a = await factory.CreateSiteAsync();
        var b = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(b.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });

        using var adminOfA = factory.ClientWithKey(a.AdminKey);
        foreach (var path in new[]
        {
            $"/v1/sites/{b.Id}", $"/v1/sites/{b.Id}/keys", $"/v1/sites/{b.Id}/subjects/{subject}/consent",
            $"/v1/sites/{b.Id}/subjects/{subject}/history", "/v1/sites/site_doesnotexist/keys",
        })
        {
            await AssertProblemAsync(await adminOfA.GetAsync(path), HttpStatusCode.NotFound, "not-found");
        }
        await AssertProblemAsync(await adminOfA.PatchAsJsonAsync($"/v1/sites/{b.Id}", new { name = "taken over" }), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await adminOfA.PostAsJsonAsync($"/v1/sites/{b.Id}/keys", new { role = "admin" }), HttpStatusCode.NotFound, "not-found");

        // A's admin may not revoke B's keys through A either.
        using var adminOfB = factory.ClientWithKey(b.AdminKey);
        var bKeys = await ReadArrayAsync(await adminOfB.GetAsync($"/v1/sites/{b.Id}/keys"));
        var bKeyId = bKeys[0]!["id"]!.GetValue<string>();
        await AssertProblemAsync(await adminOfA.DeleteAsync($"/v1/sites/{a.Id}/keys/{bKeyId}"), HttpStatusCode.NotFound, "not-found");
        Assert.Equal(HttpStatusCode.OK, (await adminOfB.GetAsync($"/v1/sites/{b.Id}")).StatusCode);
        Assert.Equal("Test shop", (await ReadJsonAsync(await adminOfB.GetAsync($"/v1/sites/{b.Id}")))["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_operator_key_acts_as_admin_on_any_site()
    {
        var site = await factory.CreateSiteAsync();
        using var op = factory.OperatorClient();
        Assert.Equal(HttpStatusCode.OK, (await op.GetAsync($"/v1/sites/{site.Id}/keys")).StatusCode);
        await AssertProblemAsync(await op.GetAsync("/v1/sites/site_doesnotexist"), HttpStatusCode.NotFound, "not-found");
    }
}
