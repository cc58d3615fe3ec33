using System.Net;
using System.Text;
using ConsentService.Tests.Infrastructure;
using Shop.Identity;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Identity;

/// <summary>
/// Identified users (issue 15 §1) through HTTP: identity secrets, every way a subject token can be wrong (a 400
/// naming subjectToken, nothing written), linking an anonymous history, and checks, history, export and
/// erasure by user id.
/// </summary>
public sealed class IdentifiedUserTests
{
    private static string NewUserId() => "user-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task An_identity_secret_is_shown_once_listed_without_its_value_and_never_written_to_the_data_folder()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var issued = await app.IssueIdentitySecretAsync(site);
        Assert.StartsWith("cis_", issued.Secret);
        Assert.StartsWith("cid_", issued.Id);

        using var admin = app.ClientWithKey(site.AdminKey);
        var listed = await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/identity-secrets"));
        var only = Assert.Single(listed)!.AsObject();
        Assert.Equal(issued.Id, only["id"]!.GetValue<string>());
        Assert.DoesNotContain(issued.Secret, listed.ToJsonString());
        Assert.EndsWith(issued.Secret[^4..], only["hint"]!.GetValue<string>());

        // A disk copy gives no secret: it is derived, not stored (and a token signed with it still works).
        Assert.False(DataFolderBytes.AnyHolds(app.DataDirectory, Encoding.UTF8.GetBytes(issued.Secret)));
        Assert.False(DataFolderBytes.AnyHolds(app.DataDirectory, Encoding.UTF8.GetBytes(issued.Secret[4..])));
        await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, issued, NewUserId()) });

        // Other roles and other sites cannot issue or read them.
        using var legal = app.ClientWithKey(site.LegalKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await legal.GetAsync($"/v1/sites/{site.Id}/identity-secrets")).StatusCode);
        var other = await app.CreateSiteAsync();
        using var otherAdmin = app.ClientWithKey(other.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, (await otherAdmin.PostAsync($"/v1/sites/{site.Id}/identity-secrets", null)).StatusCode);
    }

    [Fact]
    public async Task Secrets_roll_over_two_sign_at_once_a_revoked_one_is_refused_at_once_and_a_fourth_active_one_is_refused()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var (old, next) = (await app.IssueIdentitySecretAsync(site), await app.IssueIdentitySecretAsync(site));
        var user = NewUserId();
        await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, old, user) });
        await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, next, user) });

        using var admin = app.ClientWithKey(site.AdminKey);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/identity-secrets/{old.Id}")).StatusCode);
        using var browser = app.CreateClient();
        await AssertProblemAsync(await browser.IdentifyAsync(site.Id, new { subjectToken = app.Token(site, old, user) }),
            HttpStatusCode.BadRequest, "validation", "subjectToken");
        await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, next, user) });
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/v1/sites/{site.Id}/identity-secrets/cid_nope")).StatusCode);

        await app.IssueIdentitySecretAsync(site);
        await app.IssueIdentitySecretAsync(site);
        await AssertProblemAsync(await admin.PostAsync($"/v1/sites/{site.Id}/identity-secrets", null), HttpStatusCode.Conflict, "validation");
    }

    public static TheoryData<string> BadTokens() => ["expired", "forged", "other-site", "wrong-kid", "alg-none", "alg-hs512", "too-long-lived",
        "no-exp", "no-sub", "anonymous-sub", "future-iat", "garbage", "revoked-kid-of-other-site"];

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_bad_subject_token_is_a_400_naming_subjectToken_and_writes_nothing_on_consents_and_identify(string kind)
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var other = await app.CreateSiteAsync();
        var secret = await app.IssueIdentitySecretAsync(site);
        var otherSecret = await app.IssueIdentitySecretAsync(other);
        var now = app.Time.GetUtcNow().ToUnixTimeSeconds();
        var user = NewUserId();
        object Claims(long iat, long? exp, string? sub = "x", string? aud = null) => exp is null
            ? new { sub = sub ?? user, aud = aud ?? site.Id, iat }
            : sub is null ? new { aud = aud ?? site.Id, iat, exp } : new { sub = sub == "x" ? user : sub, aud = aud ?? site.Id, iat, exp };
        var header = new { alg = "HS256", typ = "JWT", kid = secret.Id };
        var token = kind switch
        {
            "expired" => IdentityKit.Jwt(header, Claims(now - 1200, now - 600), secret.Secret),
            "forged" => IdentityKit.Jwt(header, Claims(now, now + 600), "cis_" + new string('A', 43)),
            "other-site" => IdentityKit.Jwt(header, Claims(now, now + 600, aud: other.Id), secret.Secret),
            "wrong-kid" => IdentityKit.Jwt(header with { kid = "cid_unknown" }, Claims(now, now + 600), secret.Secret),
            "alg-none" => IdentityKit.Jwt(new { alg = "none", typ = "JWT", kid = secret.Id }, Claims(now, now + 600), null),
            "alg-hs512" => IdentityKit.Jwt(new { alg = "HS512", typ = "JWT", kid = secret.Id }, Claims(now, now + 600), secret.Secret),
            "too-long-lived" => IdentityKit.Jwt(header, Claims(now, now + 3 * 3600), secret.Secret),
            "no-exp" => IdentityKit.Jwt(header, Claims(now, null), secret.Secret),
            "no-sub" => IdentityKit.Jwt(header, Claims(now, now + 600, sub: null), secret.Secret),
            "anonymous-sub" => IdentityKit.Jwt(header, Claims(now, now + 600, sub: NewSubjectId()), secret.Secret),
            "future-iat" => IdentityKit.Jwt(header, Claims(now + 900, now + 1200), secret.Secret),
            "garbage" => "not.a.token",
            // Site B's own valid token, presented to site A: its kid is no secret of A's.
            "revoked-kid-of-other-site" => SubjectToken.Mint(otherSecret.Id, otherSecret.Secret, site.Id, user, app.Time.GetUtcNow()),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        using var browser = app.CreateClient();
        var anonymous = NewSubjectId();
        var problem = await AssertProblemAsync(await browser.PostConsentAsync(site.Id,
            new { subjectId = anonymous, subjectToken = token, policyVersion = 1, method = "accept_all" }), HttpStatusCode.BadRequest, "validation", "subjectToken");
        Assert.DoesNotContain(secret.Secret, problem.ToJsonString());
        await AssertProblemAsync(await browser.IdentifyAsync(site.Id, new { subjectToken = token }), HttpStatusCode.BadRequest, "validation", "subjectToken");

        Assert.Equal(0, await app.CountRowsAsync("consents", site.Id));
        Assert.Equal(0, await app.CountRowsAsync("subjects", site.Id));
        Assert.Equal(0, await app.CountRowsAsync("subject_links", site.Id));
    }

    [Fact]
    public async Task A_valid_token_records_for_the_user_id_and_every_device_reads_the_latest_decision_a_withdrawal_included()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var secret = await app.IssueIdentitySecretAsync(site);
        var user = NewUserId();
        using var deviceA = app.CreateClient();
        var recorded = await ReadJsonAsync(await deviceA.PostConsentAsync(site.Id,
            new { subjectId = NewSubjectId(), subjectToken = app.Token(site, secret, user), policyVersion = 1, method = "accept_all" }), HttpStatusCode.Created);
        Assert.Equal(user, recorded["subjectId"]!.GetValue<string>());

        // Device B: a new browser, no anonymous history, only a token.
        var onB = await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user) });
        Assert.True(onB["purposes"]!["analytics"]!.GetValue<bool>());
        Assert.Equal("accept_all", onB["method"]!.GetValue<string>());
        Assert.False(onB["linked"]!.GetValue<bool>());

        app.Time.Advance(TimeSpan.FromMinutes(5));
        using var deviceB = app.CreateClient();
        await ReadJsonAsync(await deviceB.PostConsentAsync(site.Id,
            new { subjectToken = app.Token(site, secret, user), policyVersion = 1, method = "withdraw" }, withSecret: false), HttpStatusCode.Created);

        var onA = await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user) });
        Assert.False(onA["purposes"]!["analytics"]!.GetValue<bool>());
        Assert.Equal("withdraw", onA["method"]!.GetValue<string>());
        using var checker = app.ClientWithKey(site.CheckKey);
        var check = await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{user}/consent?purpose=analytics"));
        Assert.False(check["granted"]!.GetValue<bool>());

        // 'api' stays the back end's: a token does not make a browser one.
        await AssertProblemAsync(await deviceB.PostConsentAsync(site.Id,
            new { subjectToken = app.Token(site, secret, user), policyVersion = 1, method = "api" }, withSecret: false), HttpStatusCode.BadRequest, "validation", "method");
    }

    [Fact]
    public async Task Linking_takes_the_anonymous_write_secret_carries_the_decision_over_and_history_export_and_erasure_follow_the_user_id()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var secret = await app.IssueIdentitySecretAsync(site);
        var user = NewUserId();
        var (phone, laptop) = (NewSubjectId(), NewSubjectId());
        await app.RecordAsync(site.Id, new { subjectId = phone, policyVersion = 1, method = "custom", purposes = new { analytics = true } });
        await app.RecordAsync(site.Id, new { subjectId = laptop, policyVersion = 1, method = "reject_all" });

        // A stranger who knows the laptop's id but not its secret links nothing.
        var stranger = await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user), subjectId = laptop, subjectSecret = SecretOf(phone) });
        Assert.False(stranger["linked"]!.GetValue<bool>());
        Assert.Null(stranger["purposes"]);
        Assert.Equal(0, await app.CountRowsAsync("subject_links", site.Id));

        // Signing in on the phone: linked, and the phone's decision becomes the user's.
        var signedIn = await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user), subjectId = phone, subjectSecret = SecretOf(phone) });
        Assert.True(signedIn["linked"]!.GetValue<bool>());
        Assert.True(signedIn["purposes"]!["analytics"]!.GetValue<bool>());
        Assert.False(signedIn["purposes"]!["marketing"]!.GetValue<bool>());
        // On the laptop: linked too, but the user's decision stands (the laptop's refusal is not carried over).
        var laptopIn = await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user), subjectId = laptop, subjectSecret = SecretOf(laptop) });
        Assert.True(laptopIn["linked"]!.GetValue<bool>());
        Assert.True(laptopIn["purposes"]!["analytics"]!.GetValue<bool>());
        // Linking again changes nothing.
        await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user), subjectId = phone, subjectSecret = SecretOf(phone) });
        Assert.Equal(2, await app.CountRowsAsync("subject_links", site.Id));

        using var legal = app.ClientWithKey(site.LegalKey);
        var history = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{user}/history"));
        Assert.Equal("custom", Assert.Single(history["records"]!.AsArray())!["method"]!.GetValue<string>());
        var linked = history["linked"]!.AsArray();
        Assert.Equal(new[] { phone, laptop }.Order(), linked.Select(l => l!["subjectId"]!.GetValue<string>()).Order());
        Assert.All(linked, l => Assert.Single(l!["records"]!.AsArray()));

        var export = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{user}/export"));
        Assert.Equal(2, export["linkedSubjects"]!.AsArray().Count);
        Assert.Equal("given", export["records"]![0]!["eventType"]!.GetValue<string>());

        var verify = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
        Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());

        Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{user}")).StatusCode);
        foreach (var erased in new[] { user, phone, laptop })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{erased}/history")).StatusCode);
        }
        Assert.Equal(0, await app.CountRowsAsync("subject_links", site.Id));
        Assert.Equal(0, await app.CountRowsAsync("subjects", site.Id));
        var after = await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user) });
        Assert.Null(after["purposes"]);
        verify = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
        Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{user}")).StatusCode);
    }

    [Fact]
    public async Task Identify_without_a_token_or_with_half_an_anonymous_subject_is_a_400_naming_the_field()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var secret = await app.IssueIdentitySecretAsync(site);
        using var browser = app.CreateClient();
        await AssertProblemAsync(await browser.IdentifyAsync(site.Id, new { subjectId = NewSubjectId() }), HttpStatusCode.BadRequest, "validation", "subjectToken");
        await AssertProblemAsync(await browser.IdentifyAsync(site.Id, new { subjectToken = app.Token(site, secret, "u1"), subjectId = NewSubjectId() }),
            HttpStatusCode.BadRequest, "validation", "subjectSecret");
        await AssertProblemAsync(await browser.IdentifyAsync(site.Id, new { subjectToken = app.Token(site, secret, "u1"), subjectId = "user-2", subjectSecret = SecretOf("x") }),
            HttpStatusCode.BadRequest, "validation", "subjectId");
        Assert.Equal(HttpStatusCode.NotFound, (await browser.IdentifyAsync("site_nope", new { subjectToken = "x" })).StatusCode);
        var site2 = await app.CreateSiteAsync();
        await AssertProblemAsync(await browser.IdentifyAsync(site2.Id, new { subjectToken = app.Token(site, secret, "u1") }), HttpStatusCode.BadRequest, "validation", "subjectToken");
    }
}
