using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Audit;
using ConsentService.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.PrivacyConsole;

/// <summary>Signing in to the console with a key, the session cookie, and what the cookie may and may not do.</summary>
public sealed class ConsoleSessionTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    [Theory]
    [InlineData("legal")]
    [InlineData("admin")]
    [InlineData("operator")]
    public async Task Each_console_role_signs_in_and_gets_an_httponly_strict_secure_cookie(string role)
    {
        var site = await factory.CreateAuditedSiteAsync();
        var key = role switch { "legal" => site.LegalKey, "admin" => site.AdminKey, _ => ConsentApiFactory.OperatorKey };

        var login = await factory.SignInAsync(key);

        Assert.Equal(role, login.Body["role"]!.GetValue<string>());
        var sites = login.Body["sites"]!.AsArray().Select(s => s!.GetValue<string>()).ToList();
        if (role == "operator") Assert.Contains(site.Id, sites);
        else Assert.Equal([site.Id], sites);
        Assert.Equal(factory.Time.GetUtcNow().AddMinutes(30), login.Body["expiresAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(factory.Time.GetUtcNow().AddHours(8), login.Body["absoluteExpiresAt"]!.GetValue<DateTimeOffset>());
        Assert.True(login.Response.Headers.CacheControl?.NoStore);

        var cookie = login.Response.Headers.GetValues("Set-Cookie").Single();
        var attributes = cookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("httponly", attributes);
        Assert.Contains("samesite=strict", attributes);
        Assert.Contains("secure", attributes); // the factory runs as "Testing": not Development
        Assert.Contains("path=/", attributes);
        Assert.Contains(attributes, a => a.StartsWith("expires=", StringComparison.Ordinal));
        Assert.True(login.Cookie.Length >= 43, "256 random bits");
        Assert.DoesNotContain(key, cookie, StringComparison.Ordinal);

        var again = await ReadJsonAsync(await factory.GetAsync("/console/api/session", login));
        Assert.Equal(role, again["role"]!.GetValue<string>());
        Assert.Equal(login.Csrf, again["csrfToken"]!.GetValue<string>());
        // The cookie stands for the key on the public API.
        Assert.Equal(HttpStatusCode.OK, (await factory.GetAsync($"/v1/sites/{site.Id}/consents", login)).StatusCode);
    }

    [Fact]
    public async Task In_development_the_cookie_is_not_secure_so_dotnet_run_works_over_plain_http()
    {
        using var development = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["environment"] = "Development" } };
        var login = await development.SignInAsync(ConsentApiFactory.OperatorKey);
        var attributes = login.Response.Headers.GetValues("Set-Cookie").Single().Split(';', StringSplitOptions.TrimEntries).Select(a => a.ToLowerInvariant());
        Assert.DoesNotContain("secure", attributes);
        Assert.Contains("httponly", attributes);
        Assert.Contains("samesite=strict", attributes);
    }

    [Fact]
    public async Task Check_keys_unknown_keys_and_revoked_keys_are_refused_and_start_no_session()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var (revoked, revokedId) = await factory.IssueAsync(site.Id, site.AdminKey, "legal");
        using (var admin = factory.Client(site.AdminKey))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{revokedId}")).StatusCode);
        }
        var before = await factory.SessionRowsAsync();

        await AssertProblemAsync(await factory.PostSignInAsync(site.CheckKey), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await factory.PostSignInAsync("csk_" + new string('x', 43)), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await factory.PostSignInAsync(revoked), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await factory.PostSignInAsync(ConsentApiFactory.OperatorKey + "x"), HttpStatusCode.Unauthorized, "unauthorized");
        var empty = await factory.PostSignInAsync("");
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);

        foreach (var response in new[] { await factory.PostSignInAsync(site.CheckKey), empty })
        {
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
        Assert.Equal(before, await factory.SessionRowsAsync());
    }

    [Fact]
    public async Task The_key_is_taken_only_from_a_json_body_never_from_a_url_or_a_form()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var client = factory.Browser();
        var byQuery = await client.PostAsync($"/console/api/session?key={Uri.EscapeDataString(site.AdminKey)}", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, byQuery.StatusCode);
        var byForm = await client.PostAsync("/console/api/session", new FormUrlEncodedContent([new("key", site.AdminKey)]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, byForm.StatusCode);
        var byGet = await client.GetAsync($"/console/api/session?key={Uri.EscapeDataString(site.AdminKey)}");
        Assert.Equal(HttpStatusCode.Unauthorized, byGet.StatusCode);
        foreach (var response in new[] { byQuery, byForm, byGet }) Assert.False(response.Headers.Contains("Set-Cookie") && response.StatusCode == HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_store_keeps_neither_the_session_id_nor_the_key_only_their_hashes()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.LegalKey);
        var files = DataFolderBytes.ReadAll(factory.DataDirectory);
        foreach (var (name, bytes) in files.Select(f => (f.Name, f.Bytes)))
        {
            foreach (var secret in new[] { login.Cookie, site.LegalKey, login.Csrf })
            {
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)) < 0, $"a secret is in {name}");
            }
        }
        Assert.Contains(files, f => f.Name.StartsWith("sessions.db", StringComparison.Ordinal)
            && f.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(login.Cookie))))) >= 0);
    }

    [Fact]
    public async Task Signing_out_ends_the_session_on_the_server_so_a_replayed_cookie_fails_on_every_instance()
    {
        using var second = new ConsentApiFactory { SharesDatabaseWith = factory };
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.AdminKey);
        Assert.Equal(HttpStatusCode.OK, await second.SessionStatusAsync(login.Cookie)); // the other instance knows the session

        // Without the CSRF token the sign-out is refused and the session lives on.
        await AssertProblemAsync(await factory.SendAsync(HttpMethod.Delete, "/console/api/session", login.Cookie), HttpStatusCode.Forbidden, "csrf");
        Assert.Equal(HttpStatusCode.OK, await factory.SessionStatusAsync(login.Cookie));

        var signedOut = await factory.SendAsync(HttpMethod.Delete, "/console/api/session", login.Cookie, login.Csrf);
        Assert.Equal(HttpStatusCode.NoContent, signedOut.StatusCode);
        Assert.Contains(signedOut.Headers.GetValues("Set-Cookie"), c => c.StartsWith("cs_session=;", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Unauthorized, await factory.SessionStatusAsync(login.Cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, await second.SessionStatusAsync(login.Cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, (await second.GetAsync($"/v1/sites/{site.Id}/keys", login)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.SendAsync(HttpMethod.Post, $"/v1/sites/{site.Id}/keys", login.Cookie, login.Csrf, new { role = "legal" })).StatusCode);
    }

    [Fact]
    public async Task Revoking_the_key_ends_its_sessions()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var (legal, legalId) = await factory.IssueAsync(site.Id, site.AdminKey, "legal");
        var login = await factory.SignInAsync(legal);
        Assert.Equal(HttpStatusCode.OK, (await factory.GetAsync($"/v1/sites/{site.Id}/consents", login)).StatusCode);

        using (var admin = factory.Client(site.AdminKey))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{legalId}")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.GetAsync($"/v1/sites/{site.Id}/consents", login)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await factory.SessionStatusAsync(login.Cookie));
    }

    [Fact]
    public async Task A_cookie_write_without_the_right_csrf_token_is_refused_and_changes_nothing()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.AdminKey);
        var other = await factory.SignInAsync(site.AdminKey);
        var path = $"/v1/sites/{site.Id}/keys";
        var keysBefore = await factory.CountRowsAsync("api_keys", site.Id);

        foreach (var csrf in new[] { null, "", "wrong", other.Csrf, login.Cookie })
        {
            await AssertProblemAsync(await factory.SendAsync(HttpMethod.Post, path, login.Cookie, csrf, new { role = "legal" }), HttpStatusCode.Forbidden, "csrf");
        }
        await AssertProblemAsync(await factory.SendAsync(HttpMethod.Patch, $"/v1/sites/{site.Id}", login.Cookie, null, new { name = "Renamed" }), HttpStatusCode.Forbidden, "csrf");
        Assert.Equal(keysBefore, await factory.CountRowsAsync("api_keys", site.Id));
        using (var admin = factory.Client(site.AdminKey))
        {
            Assert.Equal("Audited shop", (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}")))["name"]!.GetValue<string>());
        }

        // The right token works; a GET needs none.
        Assert.Equal(HttpStatusCode.Created, (await factory.SendAsync(HttpMethod.Post, path, login.Cookie, login.Csrf, new { role = "legal" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await factory.GetAsync(path, login)).StatusCode);
        Assert.Equal(keysBefore + 1, await factory.CountRowsAsync("api_keys", site.Id));
    }

    [Theory]
    [InlineData("https://evil.example", "cross-site")]
    [InlineData("https://evil.example", "")]
    [InlineData("", "cross-site")]
    [InlineData("", "same-site")]
    [InlineData("null", "")]
    public async Task A_cookie_write_from_another_origin_is_refused_even_with_the_token(string origin, string fetchSite)
    {
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.AdminKey);
        var keysBefore = await factory.CountRowsAsync("api_keys", site.Id);

        await AssertProblemAsync(await factory.SendAsync(HttpMethod.Post, $"/v1/sites/{site.Id}/keys", login.Cookie, login.Csrf, new { role = "admin" }, origin, fetchSite),
            HttpStatusCode.Forbidden, "csrf");
        await AssertProblemAsync(await factory.SendAsync(HttpMethod.Delete, "/console/api/session", login.Cookie, login.Csrf, origin: origin, fetchSite: fetchSite),
            HttpStatusCode.Forbidden, "csrf");

        Assert.Equal(keysBefore, await factory.CountRowsAsync("api_keys", site.Id));
        Assert.Equal(HttpStatusCode.OK, await factory.SessionStatusAsync(login.Cookie));
    }

    [Fact]
    public async Task Signing_in_from_another_origin_is_refused()
    {
        var site = await factory.CreateAuditedSiteAsync();
        using var client = factory.Browser();
        var request = new HttpRequestMessage(HttpMethod.Post, "/console/api/session") { Content = System.Net.Http.Json.JsonContent.Create(new { key = site.AdminKey }) };
        request.Headers.Add("Origin", "https://evil.example");
        var response = await client.SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "csrf");
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task A_bearer_key_needs_no_csrf_token_and_ignores_any_cookie()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.LegalKey);
        using var client = factory.Browser();
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sites/{site.Id}/keys") { Content = System.Net.Http.Json.JsonContent.Create(new { role = "legal" }) };
        request.Headers.Authorization = new("Bearer", site.AdminKey);
        request.Headers.Add("Cookie", "cs_session=" + login.Cookie); // a legal session: the bearer admin key decides
        Assert.Equal(HttpStatusCode.Created, (await client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task A_legal_session_has_no_admin_or_operator_rights()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.LegalKey);

        await AssertProblemAsync(await factory.GetAsync($"/v1/sites/{site.Id}/keys", login), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await factory.GetAsync($"/v1/sites/{site.Id}/audit/logs", login), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await factory.SendAsync(HttpMethod.Post, $"/v1/sites/{site.Id}/keys", login.Cookie, login.Csrf, new { role = "admin" }),
            HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await factory.SendAsync(HttpMethod.Post, "/v1/sites", login.Cookie, login.Csrf, new { name = "Mine" }),
            HttpStatusCode.Forbidden, "forbidden");
        // What legal may do, it may.
        Assert.Equal(HttpStatusCode.OK, (await factory.GetAsync($"/v1/sites/{site.Id}/ledger/verify", login)).StatusCode);
    }

    [Fact]
    public async Task A_session_of_one_site_finds_no_other_site()
    {
        var a = await factory.CreateAuditedSiteAsync();
        var b = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(a.AdminKey);
        foreach (var path in new[] { $"/v1/sites/{b.Id}/consents", $"/v1/sites/{b.Id}/keys", $"/v1/sites/{b.Id}" })
        {
            await AssertProblemAsync(await factory.GetAsync(path, login), HttpStatusCode.NotFound, "not-found");
        }
        await AssertProblemAsync(await factory.SendAsync(HttpMethod.Post, $"/v1/sites/{b.Id}/keys", login.Cookie, login.Csrf, new { role = "admin" }),
            HttpStatusCode.NotFound, "not-found");
        Assert.Equal(3, await factory.CountRowsAsync("api_keys", b.Id)); // admin, legal, check: unchanged
    }

    [Fact]
    public async Task The_cookie_does_nothing_on_public_endpoints_a_visitor_decision_stays_anonymous()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.AdminKey);
        using var client = factory.Browser();
        client.DefaultRequestHeaders.Add("Cookie", "cs_session=" + login.Cookie);
        // No CSRF token: the cookie is not a credential here, so the write is the anonymous one it always was.
        var response = await client.PostConsentAsync(site.Id, new { subjectId = NewSubjectId(), policyVersion = 1, method = "accept_all" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Sign_in_sign_out_refusals_and_cookie_calls_are_in_the_sites_audit_log()
    {
        var site = await factory.CreateAuditedSiteAsync();
        var login = await factory.SignInAsync(site.LegalKey);
        Assert.Equal(HttpStatusCode.OK, (await factory.GetAsync($"/v1/sites/{site.Id}/consents", login)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await factory.GetAsync($"/v1/sites/{site.Id}/keys", login)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await factory.PostSignInAsync(site.CheckKey)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await factory.SendAsync(HttpMethod.Delete, "/console/api/session", login.Cookie, login.Csrf)).StatusCode);

        var events = await factory.EventsAsync(site.Id, site.AdminKey);
        JsonObject Find(string action, int outcome, string keyId) => events.Single(e => e["action"]?.GetValue<string>() == action
            && e["outcome"]?.GetValue<int>() == outcome && e["keyId"]?.GetValue<string>() == keyId);
        Assert.Equal("/console/api/session", Find("ConsoleSignIn", 200, site.LegalKeyId)["path"]!.GetValue<string>());
        Assert.Equal("check", Find("ConsoleSignIn", 403, site.CheckKeyId)["role"]!.GetValue<string>());
        Find("ConsoleSignOut", 204, site.LegalKeyId);
        Find("QueryConsents", 200, site.LegalKeyId);
        Find("ListApiKeys", 403, site.LegalKeyId);
        var text = string.Join('\n', events.Select(e => e.ToJsonString()));
        Assert.DoesNotContain(login.Cookie, text, StringComparison.Ordinal);
        Assert.DoesNotContain(site.LegalKey, text, StringComparison.Ordinal);
    }
}
