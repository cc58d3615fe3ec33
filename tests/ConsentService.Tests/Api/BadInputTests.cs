using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>
/// Bad input gets a clear 4xx problem naming the field at fault, and writes nothing: every case
/// counts the rows of the tables it could touch, in the database file itself, before and after.
/// </summary>
public sealed class BadInputTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private const string Valid = """{"policyVersion":1,"method":"accept_all"}""";
    private static readonly string RandomSubject = NewSubjectId();

    // ---- POST /v1/sites/{id}/consents: the body ---------------------------------------------------

    /// <summary>name, body, status, problem type, field at fault (null: only the type is checked).</summary>
    public static TheoryData<string, string, int, string, string?> BadConsentBodies => new()
    {
        { "malformed JSON", """{"policyVersion":""", 400, "invalid-body", "policyVersion" },
        { "not JSON at all", "policyVersion=1&method=accept_all", 400, "invalid-body", "$" },
        { "empty body", "", 400, "invalid-body", "$" },
        { "whitespace body", "   ", 400, "invalid-body", "$" },
        { "JSON null", "null", 400, "invalid-body", "$" },
        { "a JSON array", "[]", 400, "invalid-body", "$" },
        { "a JSON string", "\"accept_all\"", 400, "invalid-body", "$" },
        { "a JSON number", "1", 400, "invalid-body", "$" },
        { "trailing comma", """{"policyVersion":1,"method":"accept_all",}""", 400, "invalid-body", null },
        { "comment", """{"policyVersion":1, /* hi */ "method":"accept_all"}""", 400, "invalid-body", null },
        { "two documents", """{"policyVersion":1,"method":"accept_all"}{}""", 400, "invalid-body", null },
        { "policyVersion a word", """{"policyVersion":"one","method":"accept_all"}""", 400, "invalid-body", "policyVersion" },
        { "policyVersion a numeric string", """{"policyVersion":"1","method":"accept_all"}""", 400, "invalid-body", "policyVersion" },
        { "policyVersion a fraction", """{"policyVersion":1.5,"method":"accept_all"}""", 400, "invalid-body", "policyVersion" },
        { "policyVersion beyond int", """{"policyVersion":99999999999,"method":"accept_all"}""", 400, "invalid-body", "policyVersion" },
        { "policyVersion null", """{"policyVersion":null,"method":"accept_all"}""", 400, "invalid-body", "policyVersion" },
        { "purpose value a word", """{"policyVersion":1,"method":"custom","purposes":{"analytics":"yes"}}""", 400, "invalid-body", "purposes.analytics" },
        { "purpose value null", """{"policyVersion":1,"method":"custom","purposes":{"analytics":null}}""", 400, "invalid-body", "purposes.analytics" },
        { "purpose value a number", """{"policyVersion":1,"method":"custom","purposes":{"analytics":1}}""", 400, "invalid-body", "purposes.analytics" },
        { "purposes an array", """{"policyVersion":1,"method":"custom","purposes":["analytics"]}""", 400, "invalid-body", "purposes" },
        { "source a string", """{"policyVersion":1,"method":"accept_all","source":"https://shop.example/"}""", 400, "invalid-body", "source" },
        { "unknown method", """{"policyVersion":1,"method":"maybe"}""", 400, "invalid-body", "method" },
        { "method as a number", """{"policyVersion":1,"method":0}""", 400, "invalid-body", "method" },
        { "method null", """{"policyVersion":1,"method":null}""", 400, "invalid-body", "method" },
        { "missing policyVersion", """{"method":"accept_all"}""", 400, "invalid-body", "policyVersion" },
        { "missing method", """{"policyVersion":1}""", 400, "invalid-body", "method" },
        { "empty object", "{}", 400, "invalid-body", "policyVersion" },
        { "unknown property", """{"policyVersion":1,"method":"accept_all","granted":true}""", 400, "invalid-body", null },
        { "unknown property in source", """{"policyVersion":1,"method":"accept_all","source":{"ip":"1.2.3.4"}}""", 400, "invalid-body", null },
        { "too deeply nested", """{"policyVersion":1,"method":"accept_all","x":""" + new string('[', 40) + new string(']', 40) + "}", 400, "invalid-body", null },
        { "unknown policy version", """{"policyVersion":99,"method":"accept_all"}""", 400, "validation", "policyVersion" },
        { "policy version zero", """{"policyVersion":0,"method":"accept_all"}""", 400, "validation", "policyVersion" },
        { "negative policy version", """{"policyVersion":-1,"method":"accept_all"}""", 400, "validation", "policyVersion" },
        { "unknown purpose", """{"policyVersion":1,"method":"custom","purposes":{"xyz":true}}""", 400, "validation", "purposes.xyz" },
        { "purpose id in another case", """{"policyVersion":1,"method":"custom","purposes":{"Analytics":true}}""", 400, "validation", "purposes.Analytics" },
        { "refusing the required purpose", """{"policyVersion":1,"method":"custom","purposes":{"necessary":false}}""", 400, "validation", "purposes.necessary" },
        { "accept_all refusing analytics", """{"policyVersion":1,"method":"accept_all","purposes":{"analytics":false}}""", 400, "validation", "purposes.analytics" },
        { "reject_all granting marketing", """{"policyVersion":1,"method":"reject_all","purposes":{"marketing":true}}""", 400, "validation", "purposes.marketing" },
        { "withdraw granting analytics", """{"policyVersion":1,"method":"withdraw","purposes":{"analytics":true}}""", 400, "validation", "purposes.analytics" },
        { "gpc granting marketing", """{"policyVersion":1,"method":"gpc","purposes":{"marketing":true}}""", 400, "validation", "purposes.marketing" },
        { "guessable subjectId", """{"policyVersion":1,"method":"accept_all","subjectId":"alice"}""", 400, "validation", "subjectId" },
        { "short random subjectId", """{"policyVersion":1,"method":"accept_all","subjectId":"sub_short"}""", 400, "validation", "subjectId" },
        { "empty subjectId", """{"policyVersion":1,"method":"accept_all","subjectId":""}""", 400, "validation", "subjectId" },
        { "e-mail as subjectId", """{"policyVersion":1,"method":"accept_all","subjectId":"alice@example.com"}""", 400, "validation", "subjectId" },
        { "random subjectId one character too long", $$"""{"policyVersion":1,"method":"accept_all","subjectId":"{{RandomSubject}}x"}""", 400, "validation", "subjectId" },
        { "random subjectId with a space", $$"""{"policyVersion":1,"method":"accept_all","subjectId":"sub_{{new string('a', 21)}} "}""", 400, "validation", "subjectId" },
        { "random subjectId with a trailing newline", $$"""{"policyVersion":1,"method":"accept_all","subjectId":"{{RandomSubject}}\n"}""", 400, "validation", "subjectId" },
        { "200-character subjectId", $$"""{"policyVersion":1,"method":"accept_all","subjectId":"{{new string('a', 200)}}"}""", 400, "validation", "subjectId" },
        { "subjectId a number", """{"policyVersion":1,"method":"accept_all","subjectId":42}""", 400, "invalid-body", "subjectId" },
        { "method api without a key", """{"policyVersion":1,"method":"api"}""", 400, "validation", "method" },
        { "javascript: source url", """{"policyVersion":1,"method":"accept_all","source":{"url":"javascript:alert(1)"}}""", 400, "validation", "source.url" },
        { "relative source url", """{"policyVersion":1,"method":"accept_all","source":{"url":"/cart"}}""", 400, "validation", "source.url" },
        { "ftp source url", """{"policyVersion":1,"method":"accept_all","source":{"url":"ftp://shop.example/"}}""", 400, "validation", "source.url" },
        { "source url with credentials", """{"policyVersion":1,"method":"accept_all","source":{"url":"https://user:pw@shop.example/"}}""", 400, "validation", "source.url" },
        { "3000-character source url", $$$"""{"policyVersion":1,"method":"accept_all","source":{"url":"https://shop.example/{{{new string('a', 3000)}}}"}}""", 400, "validation", "source.url" },
        { "source locale with punctuation", """{"policyVersion":1,"method":"accept_all","source":{"locale":"english!"}}""", 400, "validation", "source.locale" },
        { "source locale in upper case", """{"policyVersion":1,"method":"accept_all","source":{"locale":"EN"}}""", 400, "validation", "source.locale" },
        { "source locale with underscore", """{"policyVersion":1,"method":"accept_all","source":{"locale":"pt_BR"}}""", 400, "validation", "source.locale" },
        { "source locale with a trailing newline", """{"policyVersion":1,"method":"accept_all","source":{"locale":"en\n"}}""", 400, "validation", "source.locale" },
        { "40-character source locale", $$$"""{"policyVersion":1,"method":"accept_all","source":{"locale":"en{{{string.Concat(Enumerable.Repeat("-abcdefgh", 4))}}}"}}""", 400, "validation", "source.locale" },
    };

    [Theory]
    [MemberData(nameof(BadConsentBodies))]
    public async Task A_bad_consent_body_is_refused_naming_the_field_and_nothing_is_written(
        string name, string body, int status, string type, string? field)
    {
        Assert.False(string.IsNullOrEmpty(name));
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        var response = await client.SendAsync(RawConsent(site.Id, body, "text/plain"));

        await AssertProblemAsync(response, (HttpStatusCode)status, type, field);
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("text/plain; charset=UTF-8")]
    [InlineData("text/plain")]
    public async Task The_same_checks_hold_for_every_accepted_media_type(string contentType)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        await AssertProblemAsync(await client.SendAsync(RawConsent(site.Id, """{"policyVersion":""", contentType)),
            HttpStatusCode.BadRequest, "invalid-body", "policyVersion");
        await AssertProblemAsync(await client.SendAsync(RawConsent(site.Id, """{"policyVersion":"one","method":"accept_all"}""", contentType)),
            HttpStatusCode.BadRequest, "invalid-body", "policyVersion");
        await AssertProblemAsync(await client.SendAsync(RawConsent(site.Id, """{"policyVersion":1,"method":"custom","purposes":{"xyz":true}}""", contentType)),
            HttpStatusCode.BadRequest, "validation", "purposes.xyz");
        await AssertProblemAsync(await client.SendAsync(RawConsent(site.Id, """{"policyVersion":1,"method":"accept_all","subjectId":"alice"}""", contentType)),
            HttpStatusCode.BadRequest, "validation", "subjectId");

        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task Every_fault_of_one_body_is_listed_in_one_answer()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        var response = await client.SendAsync(RawConsent(site.Id,
            """{"policyVersion":1,"method":"api","subjectId":"alice","purposes":{"xyz":true},"source":{"url":"javascript:x","locale":"EN"}}""",
            "text/plain"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation");
        var errors = problem["errors"]!.AsObject();
        foreach (var field in new[] { "method", "subjectId", "purposes.xyz", "source.url", "source.locale" })
        {
            Assert.True(errors.ContainsKey(field), $"Expected an error for '{field}': {problem.ToJsonString()}");
        }
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task A_body_that_is_not_UTF8_is_refused()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        byte[] latin1 = [.. Encoding.ASCII.GetBytes("""{"policyVersion":1,"method":"accept_all","subjectId":" """.TrimEnd()), 0xE9, 0xFF, .. Encoding.ASCII.GetBytes("\"}")];

        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sites/{site.Id}/consents") { Content = new ByteArrayContent(latin1) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");

        await AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.BadRequest, "invalid-body");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task A_lone_surrogate_in_a_string_is_refused()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        var response = await client.SendAsync(RawConsent(site.Id,
            """{"policyVersion":1,"method":"accept_all","source":{"locale":"\ud800"}}""", "text/plain"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-body", "source.locale");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    // ---- POST /v1/sites/{id}/consents with a secret key (trusted) --------------------------------

    [Theory]
    [InlineData("has space")]
    [InlineData("slash/inside")]
    [InlineData("")]
    [InlineData("ünïcode")]
    [InlineData("user-42\n")]
    public async Task A_site_back_end_still_cannot_write_a_malformed_subjectId(string subjectId)
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);

        var response = await admin.PostConsentAsync(site.Id, new { subjectId, policyVersion = 1, method = "api" }, "application/json");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "subjectId");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task A_site_back_end_cannot_write_a_129_character_subjectId()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);

        var response = await admin.PostConsentAsync(site.Id, new { subjectId = new string('u', 129), policyVersion = 1, method = "api" }, "application/json");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "subjectId");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    // ---- POST /v1/sites/{id}/consents: size, media type, headers, site and key ----------------------

    [Fact]
    public async Task A_body_over_16_KB_is_413()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var huge = $$"""{"policyVersion":1,"method":"accept_all","subjectId":"{{new string('a', 17 * 1024)}}"}""";

        await AssertProblemAsync(await client.SendAsync(RawConsent(site.Id, huge, "text/plain")), HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task A_body_over_16_KB_without_a_declared_length_is_413()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var huge = Encoding.UTF8.GetBytes($$"""{"policyVersion":1,"method":"accept_all","subjectId":"{{new string('a', 17 * 1024)}}"}""");

        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sites/{site.Id}/consents") { Content = new StreamContent(new UnseekableStream(huge)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        Assert.Null(request.Content.Headers.ContentLength);

        await AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task A_body_over_the_server_wide_cap_is_413()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var huge = $$"""{"policyVersion":1,"method":"accept_all","subjectId":"{{new string('a', 300 * 1024)}}"}""";

        await AssertProblemAsync(await client.SendAsync(RawConsent(site.Id, huge, "application/json")), HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Theory]
    [InlineData("application/xml")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("text/html")]
    [InlineData("text/plain; charset=iso-8859-1")]
    [InlineData("application/json; charset=utf-16")]
    public async Task Another_media_type_is_415(string contentType)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        await AssertProblemAsync(await client.SendAsync(RawConsent(site.Id, Valid, contentType)), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Theory]
    [InlineData("with space")]
    [InlineData("tab\there")]
    [InlineData("clé")]
    [InlineData("300")]
    [InlineData("256")]
    public async Task A_malformed_Idempotency_Key_is_400(string key)
    {
        if (int.TryParse(key, out var length)) key = new string('k', length);
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        var request = RawConsent(site.Id, Valid, "text/plain");
        Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", key));

        await AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.BadRequest, "validation", "Idempotency-Key");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task An_Idempotency_Key_reused_with_another_body_is_422_and_only_the_first_record_exists()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var subject = NewSubjectId();

        var first = await client.PostConsentAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" }, idempotencyKey: "retry-1");
        var created = await ReadJsonAsync(first, HttpStatusCode.Created);

        var conflict = await client.PostConsentAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "reject_all" }, idempotencyKey: "retry-1");
        await AssertProblemAsync(conflict, HttpStatusCode.UnprocessableEntity, "idempotency-conflict");
        // The same caller (the same write secret) reusing its key for another subject: a conflict too.
        var otherSubject = await client.PostConsentAsync(site.Id,
            new { subjectId = NewSubjectId(), policyVersion = 1, method = "accept_all", subjectSecret = SecretOf(subject) }, idempotencyKey: "retry-1");
        await AssertProblemAsync(otherSubject, HttpStatusCode.UnprocessableEntity, "idempotency-conflict");
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));

        // The same body again is a replay of the first record, not a second one.
        var replay = await client.PostConsentAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" }, idempotencyKey: "retry-1");
        var replayed = await ReadJsonAsync(replay, HttpStatusCode.Created);
        Assert.Equal(created["id"]!.GetValue<string>(), replayed["id"]!.GetValue<string>());
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));

        using var legal = factory.ClientWithKey(site.LegalKey);
        var history = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history"));
        var record = Assert.Single(history["records"]!.AsArray());
        Assert.Equal("accept_all", record!["method"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_site_is_404()
    {
        var sitesBefore = await factory.CountRowsAsync("sites");
        using var client = factory.CreateClient();

        await AssertProblemAsync(await client.SendAsync(RawConsent("site_doesnotexist00", Valid, "text/plain")), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await client.SendAsync(RawConsent(new string('s', 300), Valid, "text/plain")), HttpStatusCode.NotFound, "not-found");
        Assert.Equal(0, await factory.CountRowsAsync("consents", "site_doesnotexist00"));
        Assert.Equal(sitesBefore, await factory.CountRowsAsync("sites"));
    }

    [Theory]
    [InlineData("Bearer nonsense")]
    [InlineData("Bearer csk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task An_unknown_key_is_401(string authorization)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var request = RawConsent(site.Id, Valid, "text/plain");
        Assert.True(request.Headers.TryAddWithoutValidation("Authorization", authorization));

        await AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task A_revoked_admin_key_is_401()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var issued = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/keys", new { role = "admin" }), HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{issued["id"]!.GetValue<string>()}")).StatusCode);

        using var revoked = factory.ClientWithKey(issued["key"]!.GetValue<string>());
        var response = await revoked.PostConsentAsync(site.Id, new { subjectId = "user-42", policyVersion = 1, method = "api" }, "application/json");

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Theory]
    [InlineData("check")]
    [InlineData("legal")]
    public async Task A_key_below_admin_is_403(string role)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.ClientWithKey(role == "check" ? site.CheckKey : site.LegalKey);

        var response = await client.PostConsentAsync(site.Id, new { subjectId = "user-42", policyVersion = 1, method = "api" }, "application/json");

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        await AssertNoConsentWrittenAsync(site.Id);
    }

    [Fact]
    public async Task Another_sites_admin_key_is_404_and_writes_on_neither_site()
    {
        var site = await factory.CreateSiteAsync();
        var other = await factory.CreateSiteAsync();
        using var client = factory.ClientWithKey(other.AdminKey);

        var response = await client.PostConsentAsync(site.Id, new { subjectId = "user-42", policyVersion = 1, method = "api" }, "application/json");

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        await AssertNoConsentWrittenAsync(site.Id);
        await AssertNoConsentWrittenAsync(other.Id);
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Basic dXNlcjpwdw==")]
    [InlineData("csk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task An_Authorization_header_without_a_bearer_key_grants_nothing(string authorization)
    {
        // Not a key at all: the request is treated as public, so the back-end-only fields stay refused.
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var request = RawConsent(site.Id, """{"policyVersion":1,"method":"api","subjectId":"user-42"}""", "application/json");
        Assert.True(request.Headers.TryAddWithoutValidation("Authorization", authorization));

        var problem = await AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.BadRequest, "validation", "method");
        Assert.True(problem["errors"]!.AsObject().ContainsKey("subjectId"), problem.ToJsonString());
        await AssertNoConsentWrittenAsync(site.Id);
    }

    // ---- POST /v1/sites (operator) -------------------------------------------------------------

    public static TheoryData<string, string, string, string?> BadSiteBodies => new()
    {
        { "missing name", """{"allowedOrigins":["https://shop.example"]}""", "invalid-body", "name" },
        { "null name", """{"name":null}""", "invalid-body", "name" },
        { "empty name", """{"name":""}""", "validation", "name" },
        { "201-character name", $$"""{"name":"{{new string('n', 201)}}"}""", "validation", "name" },
        { "name a number", """{"name":7}""", "invalid-body", "name" },
        { "origin not a URL", """{"name":"Shop","allowedOrigins":["not a url"]}""", "validation", "allowedOrigins[0]" },
        { "origin with a path", """{"name":"Shop","allowedOrigins":["https://x.example/path"]}""", "validation", "allowedOrigins[0]" },
        { "origin with a query", """{"name":"Shop","allowedOrigins":["https://x.example?x=1"]}""", "validation", "allowedOrigins[0]" },
        { "origin with credentials", """{"name":"Shop","allowedOrigins":["https://user@x.example"]}""", "validation", "allowedOrigins[0]" },
        { "second origin ftp", """{"name":"Shop","allowedOrigins":["https://ok.example","ftp://x.example"]}""", "validation", "allowedOrigins[1]" },
        { "origins a string", """{"name":"Shop","allowedOrigins":"https://shop.example"}""", "invalid-body", "allowedOrigins" },
        { "51 origins", $$"""{"name":"Shop","allowedOrigins":[{{string.Join(',', Enumerable.Range(0, 51).Select(i => $"\"https://s{i}.example\""))}}]}""", "validation", "allowedOrigins" },
        { "unknown jurisdiction", """{"name":"Shop","jurisdictionMode":"mars"}""", "invalid-body", "jurisdictionMode" },
        { "jurisdiction as a number", """{"name":"Shop","jurisdictionMode":1}""", "invalid-body", "jurisdictionMode" },
        { "consentMaxAgeDays zero", """{"name":"Shop","consentMaxAgeDays":0}""", "validation", "consentMaxAgeDays" },
        { "consentMaxAgeDays over ten years", """{"name":"Shop","consentMaxAgeDays":3651}""", "validation", "consentMaxAgeDays" },
        { "refusalReaskDays negative", """{"name":"Shop","refusalReaskDays":-1}""", "validation", "refusalReaskDays" },
        { "retentionDays under a month", """{"name":"Shop","retentionDays":29}""", "validation", "retentionDays" },
        { "auditRetentionDays under 90 days", """{"name":"Shop","auditRetentionDays":89}""", "validation", "auditRetentionDays" },
        { "auditRetentionDays over seven years", """{"name":"Shop","auditRetentionDays":2556}""", "validation", "auditRetentionDays" },
        { "defaultLocale a word", """{"name":"Shop","defaultLocale":"English"}""", "validation", "defaultLocale" },
        { "defaultLocale with a newline", """{"name":"Shop","defaultLocale":"en\n"}""", "validation", "defaultLocale" },
        { "unknown property", """{"name":"Shop","owner":"me"}""", "invalid-body", null },
        { "malformed JSON", """{"name":""", "invalid-body", null },
        { "JSON null", "null", "invalid-body", null },
        { "a JSON array", "[]", "invalid-body", null },
    };

    [Theory]
    [MemberData(nameof(BadSiteBodies))]
    public async Task A_bad_site_body_is_400_naming_the_field_and_creates_nothing(string name, string body, string type, string? field)
    {
        Assert.False(string.IsNullOrEmpty(name));
        using var op = factory.OperatorClient();
        await EnsureDatabaseAsync();
        var sites = await factory.CountRowsAsync("sites");
        var keys = await factory.CountRowsAsync("api_keys");
        var policies = await factory.CountRowsAsync("policies");

        var response = await op.PostAsync("/v1/sites", Json(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, type, field);
        Assert.Equal(sites, await factory.CountRowsAsync("sites"));
        Assert.Equal(keys, await factory.CountRowsAsync("api_keys"));
        Assert.Equal(policies, await factory.CountRowsAsync("policies"));
    }

    [Fact]
    public async Task Creating_a_site_without_the_operator_key_is_401()
    {
        var site = await factory.CreateSiteAsync();
        var sites = await factory.CountRowsAsync("sites");
        var body = """{"name":"Shop","allowedOrigins":["https://shop.example"]}""";

        foreach (var key in new[] { null, site.AdminKey, site.LegalKey, site.CheckKey, "nonsense", ConsentApiFactory.OperatorKey + "x" })
        {
            using var client = factory.ClientWithKey(key);
            await AssertProblemAsync(await client.PostAsync("/v1/sites", Json(body)), HttpStatusCode.Unauthorized, "unauthorized");
        }
        Assert.Equal(sites, await factory.CountRowsAsync("sites"));
    }

    // ---- POST /v1/sites/{id}/policies (admin) ---------------------------------------------------

    /// <summary>name, mutation of the template, problem type, field at fault.</summary>
    public static TheoryData<string, string, string?> BadPolicies => new()
    {
        { "analytics required", "validation", "purposes[1].required" },
        { "optional purpose on legitimate interest", "validation", "purposes[1].legalBasis" },
        { "required purpose on consent", "validation", "purposes[0].legalBasis" },
        { "duplicate purpose id", "validation", "purposes[4].id" },
        { "upper-case purpose id", "validation", "purposes[0].id" },
        { "purpose id starting with a digit", "validation", "purposes[3].id" },
        { "texts missing a purpose", "validation", "texts.en.purposes.marketing" },
        { "texts for a purpose that does not exist", "validation", "texts.de.purposes.ghost" },
        { "empty title", "validation", "texts.en.title" },
        { "empty purpose description", "validation", "texts.en.purposes.analytics.description" },
        { "upper-case locale", "validation", "texts.EN" },
        { "ftp privacy policy", "validation", "privacyPolicyUrl" },
        { "javascript vendor privacy policy", "validation", "purposes[1].vendors[0].privacyPolicyUrl" },
        { "duplicate vendor names", "validation", "purposes[1].vendors" },
        { "empty cookie name", "validation", "purposes[0].vendors[0].cookies[0]" },
        { "cookie pattern of wildcards only", "validation", "purposes[1].vendors[1].cookies[1]" },
        { "cookie pattern with a separator", "validation", "purposes[1].vendors[1].cookies[0]" },
        { "cookie pattern of 101 characters", "validation", "purposes[1].vendors[0].cookies[0]" },
        { "empty localStorage key", "validation", "purposes[1].vendors[0].localStorage[0]" },
        { "localStorage key with a control character", "validation", "purposes[2].vendors[0].localStorage[0]" },
        { "localStorage key of wildcards only", "validation", "purposes[1].vendors[0].localStorage[0]" },
        { "51 localStorage keys", "validation", "purposes[1].vendors[0].localStorage" },
        { "a cookie pattern of two purposes", "validation", "purposes[2].vendors[1].cookies[1]" },
        { "an optional pattern over the snippet's names", "validation", "purposes[1].vendors[1].cookies[2]" },
        { "an optional storage key over the snippet's names", "validation", "purposes[2].vendors[0].localStorage[1]" },
        { "201 cookie patterns", "validation", "purposes" },
        { "no purposes", "validation", "purposes" },
        { "no texts", "validation", "texts" },
        { "unknown legal basis", "invalid-body", "purposes[1].legalBasis" },
        { "required a string", "invalid-body", "purposes[1].required" },
        { "unknown property", "invalid-body", null },
        { "purposes missing", "invalid-body", null },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public async Task A_bad_policy_is_400_naming_the_field_and_publishes_nothing(string mutation, string type, string? field)
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var body = await PolicyTemplateAsync();
        Mutate(body, mutation);
        Assert.Equal(1, await factory.CountRowsAsync("policies", site.Id));

        var response = await admin.PostAsync($"/v1/sites/{site.Id}/policies", Json(body.ToJsonString()));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, type, field);
        Assert.Equal(1, await factory.CountRowsAsync("policies", site.Id));
        var versions = await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/policies"));
        Assert.Single(versions);
    }

    [Fact]
    public async Task The_unmutated_template_is_accepted()
    {
        // Guards the theory above: each of its bodies fails only for the one change it makes.
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);

        var response = await admin.PostAsync($"/v1/sites/{site.Id}/policies", Json((await PolicyTemplateAsync()).ToJsonString()));

        await ReadJsonAsync(response, HttpStatusCode.Created);
        Assert.Equal(2, await factory.CountRowsAsync("policies", site.Id));
    }

    [Fact]
    public async Task A_purpose_id_with_a_trailing_newline_is_refused()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var body = await PolicyTemplateAsync();
        body["purposes"]![3]!["id"] = "model_improvement\n";
        foreach (var (_, localeTexts) in body["texts"]!.AsObject())
        {
            var texts = localeTexts!["purposes"]!.AsObject();
            var moved = texts["model_improvement"]!.DeepClone();
            texts.Remove("model_improvement");
            texts["model_improvement\n"] = moved;
        }

        var response = await admin.PostAsync($"/v1/sites/{site.Id}/policies", Json(body.ToJsonString()));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "purposes[3].id");
        Assert.Equal(1, await factory.CountRowsAsync("policies", site.Id));
    }

    [Fact]
    public async Task A_texts_locale_with_a_trailing_newline_is_refused()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var body = await PolicyTemplateAsync();
        var texts = body["texts"]!.AsObject();
        var de = texts["de"]!.DeepClone();
        texts.Remove("de");
        texts["en\n"] = de;

        var response = await admin.PostAsync($"/v1/sites/{site.Id}/policies", Json(body.ToJsonString()));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "texts.en\n");
        Assert.Equal(1, await factory.CountRowsAsync("policies", site.Id));
    }

    [Theory]
    [InlineData("check", HttpStatusCode.Forbidden, "forbidden")]
    [InlineData("legal", HttpStatusCode.Forbidden, "forbidden")]
    [InlineData("none", HttpStatusCode.Unauthorized, "unauthorized")]
    [InlineData("garbage", HttpStatusCode.Unauthorized, "unauthorized")]
    [InlineData("other site admin", HttpStatusCode.NotFound, "not-found")]
    public async Task Publishing_without_an_admin_key_of_the_site_is_refused(string who, HttpStatusCode status, string type)
    {
        var site = await factory.CreateSiteAsync();
        var key = who switch
        {
            "check" => site.CheckKey,
            "legal" => site.LegalKey,
            "garbage" => "csk_garbage",
            "other site admin" => (await factory.CreateSiteAsync()).AdminKey,
            _ => null,
        };
        using var client = factory.ClientWithKey(key);

        var response = await client.PostAsync($"/v1/sites/{site.Id}/policies", Json((await PolicyTemplateAsync()).ToJsonString()));

        await AssertProblemAsync(response, status, type);
        Assert.Equal(1, await factory.CountRowsAsync("policies", site.Id));
    }

    // ---- PATCH /v1/sites/{id} -------------------------------------------------------------------

    [Theory]
    [InlineData("""{"allowedOrigins":["nope"]}""", "validation", "allowedOrigins[0]")]
    [InlineData("""{"allowedOrigins":["https://ok.example","https://x.example/path"]}""", "validation", "allowedOrigins[1]")]
    [InlineData("""{"name":""}""", "validation", "name")]
    [InlineData("""{"consentMaxAgeDays":0}""", "validation", "consentMaxAgeDays")]
    [InlineData("""{"defaultLocale":"EN"}""", "validation", "defaultLocale")]
    [InlineData("""{"jurisdictionMode":"mars"}""", "invalid-body", "jurisdictionMode")]
    [InlineData("""{"id":"site_other"}""", "invalid-body", null)]
    [InlineData("""{"allowedOrigins":""", "invalid-body", null)]
    [InlineData("null", "invalid-body", null)]
    [InlineData("", "invalid-body", null)]
    public async Task A_bad_patch_is_400_and_the_site_is_unchanged(string body, string type, string? field)
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var before = (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}"))).ToJsonString();
        factory.Time.Advance(TimeSpan.FromMinutes(1)); // a write would show in updatedAt

        var response = await admin.PatchAsync($"/v1/sites/{site.Id}", Json(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, type, field);
        var after = await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}"));
        Assert.Equal(before, after.ToJsonString());
        Assert.Equal("https://shop.example", Assert.Single(after["allowedOrigins"]!.AsArray())!.GetValue<string>());
        await AssertStoredSiteUnchangedAsync(site.Id, before);
    }

    [Theory]
    [InlineData("check", HttpStatusCode.Forbidden, "forbidden")]
    [InlineData("legal", HttpStatusCode.Forbidden, "forbidden")]
    [InlineData("none", HttpStatusCode.Unauthorized, "unauthorized")]
    [InlineData("other site admin", HttpStatusCode.NotFound, "not-found")]
    public async Task Patching_without_an_admin_key_of_the_site_is_refused_and_the_site_is_unchanged(string who, HttpStatusCode status, string type)
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        var before = (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}"))).ToJsonString();
        var key = who switch
        {
            "check" => site.CheckKey,
            "legal" => site.LegalKey,
            "other site admin" => (await factory.CreateSiteAsync()).AdminKey,
            _ => null,
        };
        using var client = factory.ClientWithKey(key);

        var response = await client.PatchAsync($"/v1/sites/{site.Id}", Json("""{"allowedOrigins":["https://evil.example"]}"""));

        await AssertProblemAsync(response, status, type);
        Assert.Equal(before, (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}"))).ToJsonString());
        await AssertStoredSiteUnchangedAsync(site.Id, before);
    }

    // ---- keys -----------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"role":"superuser"}""", "invalid-body", "role")]
    [InlineData("""{"role":3}""", "invalid-body", "role")]
    [InlineData("""{"role":null}""", "invalid-body", "role")]
    [InlineData("""{}""", "invalid-body", "role")]
    [InlineData("""{"role":"check","secret":"mine"}""", "invalid-body", "secret")]
    public async Task A_bad_key_request_is_400_and_issues_nothing(string body, string type, string? field)
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        Assert.Equal(3, await factory.CountRowsAsync("api_keys", site.Id));

        await AssertProblemAsync(await admin.PostAsync($"/v1/sites/{site.Id}/keys", Json(body)), HttpStatusCode.BadRequest, type, field);

        Assert.Equal(3, await factory.CountRowsAsync("api_keys", site.Id));
    }

    [Fact]
    public async Task A_101_character_key_label_is_400_and_issues_nothing()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);

        var response = await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/keys", new { role = "check", label = new string('l', 101) });

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "label");
        Assert.Equal(3, await factory.CountRowsAsync("api_keys", site.Id));
    }

    [Theory]
    [InlineData("check")]
    [InlineData("legal")]
    public async Task Only_an_admin_issues_keys(string role)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.ClientWithKey(role == "check" ? site.CheckKey : site.LegalKey);

        var response = await client.PostAsJsonAsync($"/v1/sites/{site.Id}/keys", new { role = "admin" });

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(3, await factory.CountRowsAsync("api_keys", site.Id));
    }

    [Fact]
    public async Task Revoking_an_unknown_key_is_404()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);

        await AssertProblemAsync(await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/key_doesnotexist"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{new string('k', 500)}"), HttpStatusCode.NotFound, "not-found");

        var keys = await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/keys"));
        Assert.Equal(3, keys.Count);
        Assert.All(keys, k => Assert.Null(k!["revokedAt"]));
    }

    [Fact]
    public async Task Revoking_another_sites_key_is_404_and_that_key_keeps_working()
    {
        var site = await factory.CreateSiteAsync();
        var other = await factory.CreateSiteAsync();
        using var otherAdmin = factory.ClientWithKey(other.AdminKey);
        var otherKeyIds = (await ReadArrayAsync(await otherAdmin.GetAsync($"/v1/sites/{other.Id}/keys"))).Select(k => k!["id"]!.GetValue<string>()).ToList();
        using var admin = factory.ClientWithKey(site.AdminKey);

        foreach (var keyId in otherKeyIds)
        {
            await AssertProblemAsync(await admin.DeleteAsync($"/v1/sites/{site.Id}/keys/{keyId}"), HttpStatusCode.NotFound, "not-found");
        }

        Assert.All(await ReadArrayAsync(await otherAdmin.GetAsync($"/v1/sites/{other.Id}/keys")), k => Assert.Null(k!["revokedAt"]));
        using var otherChecker = factory.ClientWithKey(other.CheckKey);
        Assert.Equal(HttpStatusCode.OK, (await otherChecker.GetAsync($"/v1/sites/{other.Id}/subjects/{NewSubjectId()}/consent")).StatusCode);
    }

    // ---- routes and reads ---------------------------------------------------------------------------

    [Theory]
    [InlineData("/v1/nothing")]
    [InlineData("/v2/sites")]
    [InlineData("/v1/sites/site_x/nothing")]
    public async Task An_unknown_route_is_a_404_problem(string path)
    {
        using var client = factory.CreateClient();

        await AssertProblemAsync(await client.GetAsync(path), HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task A_policy_version_that_is_not_a_number_is_404()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();

        await AssertProblemAsync(await client.GetAsync($"/v1/sites/{site.Id}/policies/latest"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await client.GetAsync($"/v1/sites/{site.Id}/policies/99"), HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task A_wrong_method_is_a_405_problem()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var sites = await factory.CountRowsAsync("sites");

        await AssertProblemAsync(await client.PutAsync("/v1/sites", Json(Valid)), HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        await AssertProblemAsync(await client.PutAsync($"/v1/sites/{site.Id}/consents", Json(Valid)), HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        await AssertNoConsentWrittenAsync(site.Id);
        Assert.Equal(sites, await factory.CountRowsAsync("sites"));
    }

    [Theory]
    [InlineData("200")]
    [InlineData("129")]
    [InlineData("has space")]
    [InlineData("semi;colon")]
    [InlineData("ünïcode")]
    public async Task Checking_a_malformed_subjectId_is_400(string subjectId)
    {
        if (int.TryParse(subjectId, out var length)) subjectId = new string('a', length);
        var site = await factory.CreateSiteAsync();
        using var checker = factory.ClientWithKey(site.CheckKey);
        using var legal = factory.ClientWithKey(site.LegalKey);

        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{Uri.EscapeDataString(subjectId)}/consent"),
            HttpStatusCode.BadRequest, "validation", "subjectId");
        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{Uri.EscapeDataString(subjectId)}/history"),
            HttpStatusCode.BadRequest, "validation", "subjectId");
    }

    [Fact]
    public async Task Checking_a_subjectId_with_a_trailing_newline_is_400()
    {
        var site = await factory.CreateSiteAsync();
        using var checker = factory.ClientWithKey(site.CheckKey);

        await AssertProblemAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/alice%0A/consent"), HttpStatusCode.BadRequest, "validation", "subjectId");
    }

    [Theory]
    [InlineData("unknown")]
    [InlineData("Analytics")]
    [InlineData("")]
    public async Task Checking_an_unknown_purpose_is_400(string purpose)
    {
        var site = await factory.CreateSiteAsync();
        using var checker = factory.ClientWithKey(site.CheckKey);

        var response = await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{NewSubjectId()}/consent?purpose={Uri.EscapeDataString(purpose)}");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "purpose");
    }


    [Fact]
    public async Task A_missing_required_property_is_named_as_the_field()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        using var op = factory.OperatorClient();
        using var admin = factory.ClientWithKey(site.AdminKey);

        await AssertMessageNamesAsync(await client.SendAsync(RawConsent(site.Id, """{"method":"accept_all"}""", "text/plain")), "policyVersion");
        await AssertMessageNamesAsync(await client.SendAsync(RawConsent(site.Id, """{"policyVersion":1}""", "text/plain")), "method");
        await AssertMessageNamesAsync(await op.PostAsync("/v1/sites", Json("""{"allowedOrigins":["https://shop.example"]}""")), "name");
        await AssertMessageNamesAsync(await admin.PostAsync($"/v1/sites/{site.Id}/keys", Json("{}")), "role");
        await AssertNoConsentWrittenAsync(site.Id);
        Assert.Equal(3, await factory.CountRowsAsync("api_keys", site.Id));

        static async Task AssertMessageNamesAsync(HttpResponseMessage response, string property)
        {
            var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-body", property);
            Assert.Equal("Required.", Assert.Single(problem["errors"]![property]!.AsArray())!.GetValue<string>());
            Assert.DoesNotContain("ConsentService.", problem.ToJsonString(), StringComparison.Ordinal); // no .NET type names leak
        }
    }

    // ---- never a 500 ------------------------------------------------------------------------------

    public static TheoryData<string> Garbage => new()
    {
        "", " ", "null", "true", "0", "-1", "\"x\"", "[]", "[{}]", "{", "}", "{\"a\":", "{\"a\":1,,}", "{'name':'x'}",
        "\u0000", "\uFEFF", "{\"policyVersion\":1e400,\"method\":\"accept_all\"}", "{\"name\":\"\\ud800\"}",
        new string('[', 200) + new string(']', 200), "{\"purposes\":" + string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 101),
        "{\"role\":[\"admin\"],\"name\":{\"x\":1},\"purposes\":\"all\",\"texts\":[],\"allowedOrigins\":[null]}",
        "{\"allowedOrigins\":[null],\"purposes\":[null],\"texts\":{\"en\":null}}",
        "{\"name\":\"Shop\",\"purposes\":[{\"id\":null}],\"texts\":{\"en\":{\"purposes\":null}}}",
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task Garbage_to_any_write_endpoint_is_a_4xx_problem_and_writes_nothing(string body)
    {
        var site = await factory.CreateSiteAsync();
        var tables = new[] { "sites", "api_keys", "policies", "subjects", "consents" };
        var before = new List<long>();
        foreach (var table in tables) before.Add(await factory.CountRowsAsync(table));
        using var admin = factory.ClientWithKey(site.AdminKey);
        var siteBefore = (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}"))).ToJsonString();
        var keyId = (await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/keys")))[0]!["id"]!.GetValue<string>();

        var calls = new (HttpMethod Method, string Path, string? Key, string ContentType)[]
        {
            (HttpMethod.Post, "/v1/sites", ConsentApiFactory.OperatorKey, "application/json"),
            (HttpMethod.Patch, $"/v1/sites/{site.Id}", site.AdminKey, "application/json"),
            (HttpMethod.Post, $"/v1/sites/{site.Id}/keys", site.AdminKey, "application/json"),
            (HttpMethod.Post, $"/v1/sites/{site.Id}/policies", site.AdminKey, "application/json"),
            (HttpMethod.Post, $"/v1/sites/{site.Id}/consents", null, "text/plain"),
            (HttpMethod.Post, $"/v1/sites/{site.Id}/consents", site.AdminKey, "application/json"),
            (HttpMethod.Delete, $"/v1/sites/{site.Id}/keys/{keyId}x", site.AdminKey, "application/json"),
        };
        foreach (var (method, path, key, contentType) in calls)
        {
            using var client = factory.ClientWithKey(key);
            var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
            Assert.True(request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType));

            var response = await client.SendAsync(request);

            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode is >= 400 and < 500, $"{method} {path}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.StartsWith("urn:consentservice:problem:", JsonNode.Parse(text)!["type"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        for (var i = 0; i < tables.Length; i++)
        {
            Assert.True(before[i] == await factory.CountRowsAsync(tables[i]), $"Rows were written to {tables[i]}.");
        }
        Assert.Equal(siteBefore, (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}"))).ToJsonString());
        Assert.All(await ReadArrayAsync(await admin.GetAsync($"/v1/sites/{site.Id}/keys")), k => Assert.Null(k!["revokedAt"]));
    }

    // ---- helpers --------------------------------------------------------------------------------

    private static HttpRequestMessage RawConsent(string siteId, string body, string contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        Assert.True(content.Headers.TryAddWithoutValidation("Content-Type", contentType));
        return new HttpRequestMessage(HttpMethod.Post, $"/v1/sites/{siteId}/consents") { Content = content };
    }

    private static ByteArrayContent Json(string body)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private async Task AssertNoConsentWrittenAsync(string siteId)
    {
        Assert.Equal(0, await factory.CountRowsAsync("consents", siteId));
        Assert.Equal(0, await factory.CountRowsAsync("subjects", siteId));
    }

    /// <summary>The sites table itself still holds the site as it was read before (the API read could come from the cache).</summary>
    private async Task AssertStoredSiteUnchangedAsync(string siteId, string before)
    {
        var stored = await factory.Store.GetSiteAsync(siteId, CancellationToken.None);
        Assert.NotNull(stored);
        var expected = JsonNode.Parse(before)!;
        Assert.Equal(expected["updatedAt"]!.GetValue<DateTimeOffset>(), stored.UpdatedAt);
        Assert.Equal(expected["name"]!.GetValue<string>(), stored.Name);
        Assert.Equal(expected["allowedOrigins"]!.AsArray().Select(o => o!.GetValue<string>()), stored.AllowedOrigins);
        Assert.Equal(expected["consentMaxAgeDays"]!.GetValue<int>(), stored.ConsentMaxAgeDays);
        Assert.Equal(expected["defaultLocale"]!.GetValue<string>(), stored.DefaultLocale);
    }

    /// <summary>The first request of a class creates the database file; counts before it would find no file.</summary>
    private async Task EnsureDatabaseAsync()
    {
        using var client = factory.CreateClient();
        await client.GetAsync("/health/live");
    }

    private async Task<JsonObject> PolicyTemplateAsync()
    {
        using var client = factory.CreateClient();
        return await ReadJsonAsync(await client.GetAsync("/v1/policy-template"));
    }

    /// <summary>Applies one named change to a valid policy body (the default template: necessary, analytics, marketing, model_improvement).</summary>
    private static void Mutate(JsonObject body, string mutation)
    {
        var purposes = body["purposes"]!.AsArray();
        var texts = body["texts"]!.AsObject();
        var en = texts["en"]!.AsObject();
        switch (mutation)
        {
            case "analytics required":
                purposes[1]!["required"] = true;
                break;
            case "optional purpose on legitimate interest":
                purposes[1]!["legalBasis"] = "legitimate_interest";
                break;
            case "required purpose on consent":
                purposes[0]!["legalBasis"] = "consent";
                break;
            case "duplicate purpose id":
                purposes.Add(purposes[1]!.DeepClone());
                break;
            case "upper-case purpose id":
                purposes[0]!["id"] = "Analytics";
                break;
            case "purpose id starting with a digit":
                purposes[3]!["id"] = "1model";
                break;
            case "texts missing a purpose":
                en["purposes"]!.AsObject().Remove("marketing");
                break;
            case "texts for a purpose that does not exist":
                texts["de"]!["purposes"]!.AsObject()["ghost"] = new JsonObject { ["title"] = "Geist", ["description"] = "Gibt es nicht." };
                break;
            case "empty title":
                en["title"] = "";
                break;
            case "empty purpose description":
                en["purposes"]!["analytics"]!["description"] = "";
                break;
            case "upper-case locale":
                texts.Remove("en");
                texts["EN"] = en;
                break;
            case "ftp privacy policy":
                body["privacyPolicyUrl"] = "ftp://x";
                break;
            case "javascript vendor privacy policy":
                purposes[1]!["vendors"]![0]!["privacyPolicyUrl"] = "javascript:alert(1)";
                break;
            case "duplicate vendor names":
                purposes[1]!["vendors"]!.AsArray().Add(purposes[1]!["vendors"]![0]!.DeepClone());
                break;
            case "empty cookie name":
                purposes[0]!["vendors"]![0]!["cookies"]![0] = "";
                break;
            case "cookie pattern of wildcards only":
                purposes[1]!["vendors"]![1]!["cookies"]![1] = "**";
                break;
            case "cookie pattern with a separator":
                purposes[1]!["vendors"]![1]!["cookies"]![0] = "_ga;domain";
                break;
            case "cookie pattern of 101 characters":
                purposes[1]!["vendors"]![0]!["cookies"]![0] = new string('a', 101);
                break;
            case "empty localStorage key":
                purposes[1]!["vendors"]![0]!["localStorage"]![0] = "";
                break;
            case "localStorage key with a control character":
                purposes[2]!["vendors"]![0]!["localStorage"]![0] = "_hj\n*";
                break;
            case "localStorage key of wildcards only":
                purposes[1]!["vendors"]![0]!["localStorage"]![0] = "*";
                break;
            case "a cookie pattern of two purposes":
                // _ga_* (analytics) and _g*_x (marketing) both match _ga_x.
                purposes[2]!["vendors"]![1]!["cookies"]!.AsArray().Add("_g*_x");
                break;
            case "an optional pattern over the snippet's names":
                purposes[1]!["vendors"]![1]!["cookies"]!.AsArray().Add("con*");
                break;
            case "an optional storage key over the snippet's names":
                purposes[2]!["vendors"]![0]!["localStorage"]!.AsArray().Add("*_outbox_*");
                break;
            case "201 cookie patterns":
                for (var v = 0; v < 5; v++)
                {
                    purposes[3]!["vendors"]!.AsArray().Add(new JsonObject
                    {
                        ["name"] = "Vendor " + v,
                        ["cookies"] = new JsonArray([.. Enumerable.Range(0, 40).Select(i => (JsonNode)$"mi_{v}_{i}")]),
                    });
                }
                break;
            case "51 localStorage keys":
                purposes[1]!["vendors"]![0]!["localStorage"] = new JsonArray([.. Enumerable.Range(0, 51).Select(i => (JsonNode)("k" + i))]);
                break;
            case "no purposes":
                purposes.Clear();
                foreach (var (_, localeTexts) in texts) localeTexts!["purposes"]!.AsObject().Clear();
                break;
            case "no texts":
                texts.Clear();
                break;
            case "unknown legal basis":
                purposes[1]!["legalBasis"] = "because";
                break;
            case "required a string":
                purposes[1]!["required"] = "no";
                break;
            case "unknown property":
                body["publishedAt"] = "2020-01-01T00:00:00Z";
                break;
            case "purposes missing":
                body.Remove("purposes");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mutation), mutation, "No such mutation.");
        }
    }

    /// <summary>A stream whose length is unknown, so the request goes without Content-Length.</summary>
    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
