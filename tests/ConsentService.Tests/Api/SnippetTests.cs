using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Xunit.Abstractions;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

public sealed class SnippetTests(ConsentApiFactory factory, ITestOutputHelper output) : IClassFixture<ConsentApiFactory>
{
    /// <summary>DESIGN §6 / issue 6: the served script, config and CSS included, for the default policy.</summary>
    private const int GzipBudgetBytes = 6 * 1024;

    private const string Placeholder = "__CONSENT_CONFIG__";

    private static string CommittedScript() =>
        File.ReadAllText(Path.Combine(OpenApiAndHealthTests.RepositoryRoot(), "src", "ConsentService", "Snippet", "consent.min.js"));

    /// <summary>The config object consent.js carries, cut out between the built script's head and tail.</summary>
    private static JsonObject InlinedConfig(string body)
    {
        var script = CommittedScript();
        var at = script.IndexOf(Placeholder, StringComparison.Ordinal);
        var (head, tail) = (script[..at], script[(at + Placeholder.Length)..]);
        Assert.StartsWith(head, body, StringComparison.Ordinal);
        Assert.EndsWith(tail, body, StringComparison.Ordinal);
        return JsonNode.Parse(body[head.Length..^tail.Length])!.AsObject();
    }

    private async Task<JsonObject> PublishAsync(TestSite site, Action<JsonObject> change, bool? material = null)
    {
        using var client = factory.ClientWithKey(site.AdminKey);
        var policy = await ReadJsonAsync(await client.GetAsync("/v1/policy-template"));
        change(policy);
        if (material is not null) policy["material"] = material;
        return await ReadJsonAsync(await client.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", policy), HttpStatusCode.Created);
    }

    [Fact]
    public async Task The_config_carries_the_current_policy_texts_and_the_site_rules()
    {
        var site = await factory.CreateSiteAsync(new
        {
            name = "Shop", allowedOrigins = new[] { "https://shop.example" }, defaultLocale = "de",
            jurisdictionMode = "ccpa", consentMaxAgeDays = 200, refusalReaskDays = 90,
        });
        using var client = factory.CreateClient();
        var response = await client.GetAsync($"/v1/sites/{site.Id}/config");
        var config = await ReadJsonAsync(response);
        var policy = await ReadJsonAsync(await client.GetAsync($"/v1/sites/{site.Id}/policies/1"));

        Assert.Equal(site.Id, config["siteId"]!.GetValue<string>());
        Assert.Null(config["api"]); // no PublicUrl configured: the snippet posts to where it came from
        Assert.Equal(1, config["version"]!.GetValue<int>());
        Assert.Equal(1, config["materialVersion"]!.GetValue<int>());
        Assert.Equal(policy["contentHash"]!.GetValue<string>(), config["contentHash"]!.GetValue<string>());
        Assert.Equal("de", config["defaultLocale"]!.GetValue<string>());
        Assert.Equal("ccpa", config["jurisdictionMode"]!.GetValue<string>());
        Assert.Equal("ccpa", config["jurisdiction"]!.GetValue<string>());
        Assert.Equal(200, config["consentMaxAgeDays"]!.GetValue<int>());
        Assert.Equal(90, config["refusalReaskDays"]!.GetValue<int>());
        Assert.Equal("public, max-age=300", response.Headers.CacheControl?.ToString());

        var purposes = config["purposes"]!.AsArray();
        Assert.Equal(["necessary", "analytics", "marketing", "model_improvement"], purposes.Select(p => p!["id"]!.GetValue<string>()));
        Assert.Equal([true, false, false, false], purposes.Select(p => p!["required"]!.GetValue<bool>()));
        var analytics = purposes[1]!["vendors"]!.AsArray();
        Assert.Equal("PostHog", analytics[0]!["name"]!.GetValue<string>());
        Assert.Equal(["ph_*_posthog"], analytics[0]!["cookies"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(["ph_*_posthog"], analytics[0]!["localStorage"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Null(analytics[2]!["localStorage"]); // compact: Sentry keeps nothing, so nothing is sent
        Assert.Null(purposes[1]!["legalBasis"]); // compact: the full policy is one request away
        Assert.True(JsonNode.DeepEquals(policy["texts"], config["texts"]), "the texts of every locale, as published");
    }

    [Theory]
    [InlineData("US", "ccpa")]
    [InlineData("us", "ccpa")]
    [InlineData("DE", "gdpr")]
    [InlineData(null, "gdpr")]
    public async Task Auto_resolves_the_jurisdiction_from_the_visitors_country_and_defaults_to_gdpr(string? country, string expected)
    {
        var site = await factory.CreateSiteAsync(new { name = "Shop", jurisdictionMode = "auto" });
        using var client = factory.CreateClient();
        foreach (var path in new[] { "config", "consent.js" })
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/{path}");
            if (country is not null) request.Headers.Add("CF-IPCountry", country);
            var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var config = path == "config" ? JsonNode.Parse(body)!.AsObject() : InlinedConfig(body);
            Assert.Equal(path == "config" ? "auto" : null, config["jurisdictionMode"]?.GetValue<string>());
            Assert.Equal(expected, config["jurisdiction"]!.GetValue<string>());
            // A shared cache must not serve one country's answer to another.
            Assert.Contains("CF-IPCountry", response.Headers.Vary);
        }
        var cloudFront = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/config");
        cloudFront.Headers.Add("CloudFront-Viewer-Country", "US");
        Assert.Equal("ccpa", (await ReadJsonAsync(await client.SendAsync(cloudFront)))["jurisdiction"]!.GetValue<string>());
    }

    [Fact]
    public async Task Consent_js_is_the_built_snippet_with_the_config_inlined()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var response = await client.GetAsync($"/v1/sites/{site.Id}/consent.js");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        Assert.Equal("public, max-age=300", response.Headers.CacheControl?.ToString());
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.NotNull(response.Headers.ETag);
        Assert.False(response.Headers.ETag!.IsWeak);
        Assert.Null(response.Content.Headers.ContentEncoding.FirstOrDefault());

        var inlined = InlinedConfig(body);
        var served = await ReadJsonAsync(await client.GetAsync($"/v1/sites/{site.Id}/config"));
        // The inlined copy leaves out nulls, required: false and what the snippet never reads, to stay
        // small; everything else is the same object.
        served["privacyPolicyUrl"] = null;
        served["contentHash"] = null;
        served["jurisdictionMode"] = null;
        foreach (var purpose in served["purposes"]!.AsArray().Where(p => p!["required"]!.GetValue<bool>() is false))
        {
            purpose!["required"] = null;
        }
        Assert.True(JsonNode.DeepEquals(Compact(served), inlined), $"inlined {inlined} differs from /config {served}");
        Assert.DoesNotContain(Placeholder, body, StringComparison.Ordinal);
    }

    private static JsonNode? Compact(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Where(p => p.Value is not null).Select(p => KeyValuePair.Create(p.Key, Compact(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Compact).ToArray()),
        _ => node?.DeepClone(),
    };

    [Fact]
    public async Task Policy_texts_cannot_break_out_of_a_script_block()
    {
        var site = await factory.CreateSiteAsync();
        await PublishAsync(site, p => p["texts"]!["en"]!["title"] = "</script><script>alert('x')</script> & Ünïcode");
        using var client = factory.CreateClient();
        var body = await client.GetStringAsync($"/v1/sites/{site.Id}/consent.js");
        Assert.DoesNotContain("</script>", body, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Ünïcode", body, StringComparison.Ordinal);
        Assert.Equal("</script><script>alert('x')</script> & Ünïcode", InlinedConfig(body)["texts"]!["en"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_matching_If_None_Match_is_304_without_a_body()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var first = await client.GetAsync($"/v1/sites/{site.Id}/consent.js");
        var etag = first.Headers.ETag!;

        var again = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/consent.js");
        again.Headers.IfNoneMatch.Add(etag);
        var notModified = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, notModified.Headers.ETag);

        var other = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/consent.js");
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"something-else\""));
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(other)).StatusCode);
    }

    [Fact]
    public async Task A_new_policy_version_shows_up_on_the_next_request_with_a_new_etag()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var before = await client.GetAsync($"/v1/sites/{site.Id}/consent.js");
        var beforeBody = await before.Content.ReadAsStringAsync();

        // Wording only: not material, so earlier decisions stay valid.
        await PublishAsync(site, p => p["texts"]!["en"]!["title"] = "Your privacy choices");
        var reworded = await client.GetAsync($"/v1/sites/{site.Id}/consent.js");
        var rewordedConfig = InlinedConfig(await reworded.Content.ReadAsStringAsync());
        Assert.NotEqual(before.Headers.ETag, reworded.Headers.ETag);
        Assert.Equal(2, rewordedConfig["version"]!.GetValue<int>());
        Assert.Equal(1, rewordedConfig["materialVersion"]!.GetValue<int>());
        Assert.Equal("Your privacy choices", rewordedConfig["texts"]!["en"]!["title"]!.GetValue<string>());

        // A new vendor: material, earlier decisions go stale.
        await PublishAsync(site, p => p["purposes"]![1]!["vendors"]!.AsArray().Add(new JsonObject { ["name"] = "Plausible" }));
        var material = InlinedConfig(await client.GetStringAsync($"/v1/sites/{site.Id}/consent.js"));
        Assert.Equal(3, material["version"]!.GetValue<int>());
        Assert.Equal(3, material["materialVersion"]!.GetValue<int>());
        Assert.Contains("Plausible", material["purposes"]![1]!["vendors"]!.AsArray().Select(v => v!["name"]!.GetValue<string>()));

        // The old ETag no longer matches.
        var revalidate = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/consent.js");
        revalidate.Headers.IfNoneMatch.Add(before.Headers.ETag!);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(revalidate)).StatusCode);
        Assert.NotEqual(beforeBody, await client.GetStringAsync($"/v1/sites/{site.Id}/consent.js"));
    }

    [Fact]
    public async Task A_site_change_shows_up_on_the_next_request()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var before = await client.GetAsync($"/v1/sites/{site.Id}/consent.js");
        using var admin = factory.ClientWithKey(site.AdminKey);
        await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { defaultLocale = "de", jurisdictionMode = "ccpa" }));

        var after = await client.GetAsync($"/v1/sites/{site.Id}/consent.js");
        Assert.NotEqual(before.Headers.ETag, after.Headers.ETag);
        var config = InlinedConfig(await after.Content.ReadAsStringAsync());
        Assert.Equal("de", config["defaultLocale"]!.GetValue<string>());
        Assert.Equal("ccpa", config["jurisdiction"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("consent.js")]
    [InlineData("config")]
    public async Task An_unknown_site_is_a_404_problem(string path)
    {
        using var client = factory.CreateClient();
        var problem = await AssertProblemAsync(await client.GetAsync($"/v1/sites/site_nope/{path}"), HttpStatusCode.NotFound, "not-found");
        Assert.Contains("site_nope", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_served_script_for_the_default_policy_is_within_the_gzip_budget()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var body = await client.GetByteArrayAsync($"/v1/sites/{site.Id}/consent.js");

        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(body);
        }
        var gzipped = buffer.Length;

        // What goes over the wire when the browser accepts gzip (every browser does).
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/consent.js");
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        var response = await client.SendAsync(request);
        var wire = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.EndsWith("-gz\"", response.Headers.ETag!.Tag, StringComparison.Ordinal);
        using (var unzip = new GZipStream(new MemoryStream(wire), CompressionMode.Decompress))
        using (var plain = new MemoryStream())
        {
            unzip.CopyTo(plain);
            Assert.Equal(body, plain.ToArray());
        }

        output.WriteLine($"consent.js for the default policy: {body.Length} bytes, {gzipped} bytes gzipped, {wire.Length} bytes served gzipped (budget {GzipBudgetBytes})");
        Assert.True(gzipped <= GzipBudgetBytes, $"consent.js is {gzipped} bytes gzipped, over the {GzipBudgetBytes}-byte budget");
        Assert.True(wire.Length <= GzipBudgetBytes, $"consent.js is served as {wire.Length} gzipped bytes, over the {GzipBudgetBytes}-byte budget");
    }

    [Fact]
    public async Task Gzip_is_only_sent_to_clients_that_accept_it()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/consent.js");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip;q=0, br;q=0");
        var response = await client.SendAsync(request);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.StartsWith("(()=>{", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    // --- The idempotencyKey body field: the snippet cannot send the header without a preflight.

    private static object Decision(string subject, string method = "accept_all", string? key = null) =>
        key is null
            ? new { subjectId = subject, policyVersion = 1, method }
            : new { subjectId = subject, policyVersion = 1, method, idempotencyKey = key };

    [Fact]
    public async Task A_retry_with_the_same_body_idempotency_key_replays_the_first_record()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var subject = NewSubjectId();
        var first = await ReadJsonAsync(await client.PostConsentAsync(site.Id, Decision(subject, key: "dec_1")), HttpStatusCode.Created);
        var retry = await client.PostConsentAsync(site.Id, Decision(subject, key: "dec_1"));
        var replayed = await ReadJsonAsync(retry, HttpStatusCode.Created);

        Assert.Equal(first["id"]!.GetValue<string>(), replayed["id"]!.GetValue<string>());
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));

        // The same key as a header names the same request: the key is not part of its identity.
        var viaHeader = await client.PostConsentAsync(site.Id, Decision(subject), idempotencyKey: "dec_1");
        Assert.Equal(first["id"]!.GetValue<string>(), (await ReadJsonAsync(viaHeader, HttpStatusCode.Created))["id"]!.GetValue<string>());
        var both = await client.PostConsentAsync(site.Id, Decision(subject, key: "dec_1"), idempotencyKey: "dec_1");
        Assert.Equal(first["id"]!.GetValue<string>(), (await ReadJsonAsync(both, HttpStatusCode.Created))["id"]!.GetValue<string>());
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task A_body_idempotency_key_reused_for_another_decision_is_422()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var subject = NewSubjectId();
        await ReadJsonAsync(await client.PostConsentAsync(site.Id, Decision(subject, key: "dec_2")), HttpStatusCode.Created);
        var conflict = await client.PostConsentAsync(site.Id, Decision(subject, "reject_all", key: "dec_2"));
        await AssertProblemAsync(conflict, HttpStatusCode.UnprocessableEntity, "idempotency-conflict");
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));
    }

    [Theory]
    [InlineData("with space")]
    [InlineData("")]
    [InlineData("clé")]
    [InlineData("256")]
    public async Task A_malformed_body_idempotency_key_is_400_naming_the_field(string key)
    {
        if (int.TryParse(key, out var length)) key = new string('k', length);
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var response = await client.PostConsentAsync(site.Id, Decision(NewSubjectId(), key: key));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "idempotencyKey");
        Assert.Equal(0, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task A_body_key_that_differs_from_the_header_is_400_naming_the_field()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var response = await client.PostConsentAsync(site.Id, Decision(NewSubjectId(), key: "dec_body"), idempotencyKey: "dec_header");
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "idempotencyKey");
        Assert.Equal(0, await factory.CountRowsAsync("consents", site.Id));
    }

    // --- CORS for the snippet's posts.

    private static HttpRequestMessage Post(string siteId, string? origin, string body = """{"policyVersion":1,"method":"reject_all"}""")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sites/{siteId}/consents")
        {
            Content = new StringContent(body, Encoding.UTF8, "text/plain"),
        };
        if (origin is not null) request.Headers.Add("Origin", origin);
        return request;
    }

    private static string? AllowOrigin(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;

    [Theory]
    [InlineData("https://shop.example", "https://shop.example")]
    [InlineData("https://SHOP.example", "https://shop.example")]
    [InlineData("http://localhost", "http://localhost")] // the service's own origin: the demo page
    public async Task A_post_from_an_allowed_or_the_services_own_origin_may_be_read(string origin, string expected)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var response = await client.SendAsync(Post(site.Id, origin));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(expected, AllowOrigin(response));
        Assert.Contains("Origin", response.Headers.Vary);
    }

    [Fact]
    public async Task Problems_carry_the_cors_headers_too_so_the_snippet_knows_not_to_retry()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var response = await client.SendAsync(Post(site.Id, "https://shop.example", """{"policyVersion":99,"method":"reject_all"}"""));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", "policyVersion");
        Assert.Equal("https://shop.example", AllowOrigin(response));
    }

    [Theory]
    [InlineData("https://evil.example")]
    [InlineData("https://shop.example.evil.example")]
    [InlineData("http://shop.example")] // another scheme is another origin
    [InlineData("null")] // sandboxed frames and file: pages
    public async Task A_post_from_any_other_origin_is_refused_and_writes_nothing(string origin)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var response = await client.SendAsync(Post(site.Id, origin));
        var problem = await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains($"'{origin}'", problem["detail"]!.GetValue<string>());
        Assert.Equal(origin, problem["origin"]!.GetValue<string>());
        Assert.Null(AllowOrigin(response));
        Assert.Contains("Origin", response.Headers.Vary);
        Assert.Equal(0, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task A_site_back_end_with_its_key_is_held_to_the_origin_rule_only_when_it_sends_an_origin()
    {
        var site = await factory.CreateSiteAsync();
        using var backEnd = factory.ClientWithKey(site.AdminKey);
        var body = """{"subjectId":"user:1","policyVersion":1,"method":"api"}""";
        Assert.Equal(HttpStatusCode.Created, (await backEnd.SendAsync(Post(site.Id, null, body))).StatusCode);
        await AssertProblemAsync(await backEnd.SendAsync(Post(site.Id, "https://evil.example", body)), HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task A_post_without_an_origin_is_a_server_to_server_call_and_is_recorded_without_cors_headers()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var response = await client.SendAsync(Post(site.Id, null));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Null(AllowOrigin(response));
        Assert.Contains("Origin", response.Headers.Vary);
    }

    [Fact]
    public async Task Consent_js_and_the_config_are_served_to_pages_of_any_origin()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        foreach (var path in new[] { "consent.js", "config" })
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sites/{site.Id}/{path}");
            request.Headers.Add("Origin", "https://elsewhere.example");
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public async Task Adding_an_origin_to_the_site_lets_its_pages_post()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        await AssertProblemAsync(await client.SendAsync(Post(site.Id, "https://blog.example")), HttpStatusCode.Forbidden, "forbidden");
        using var admin = factory.ClientWithKey(site.AdminKey);
        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/v1/sites/{site.Id}")
        {
            Content = new StringContent("""{"allowedOrigins":["https://shop.example","https://blog.example"]}""", Encoding.UTF8, "application/json"),
        };
        Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(patch)).StatusCode);
        var response = await client.SendAsync(Post(site.Id, "https://blog.example"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("https://blog.example", AllowOrigin(response));
    }

    [Fact]
    public async Task A_preflight_is_answered_for_allowed_origins_only()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        HttpRequestMessage Preflight(string siteId, string origin)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, $"/v1/sites/{siteId}/consents");
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            request.Headers.Add("Access-Control-Request-Headers", "content-type,idempotency-key");
            return request;
        }

        var allowed = await client.SendAsync(Preflight(site.Id, "https://shop.example"));
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("https://shop.example", AllowOrigin(allowed));
        Assert.Equal("POST", allowed.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Contains("Idempotency-Key", allowed.Headers.GetValues("Access-Control-Allow-Headers").Single());

        var other = await client.SendAsync(Preflight(site.Id, "https://evil.example"));
        Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
        Assert.Null(AllowOrigin(other));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Methods"));

        await AssertProblemAsync(await client.SendAsync(Preflight("site_nope", "https://shop.example")), HttpStatusCode.NotFound, "not-found");
    }

    // --- The demo page.

    [Fact]
    public async Task In_development_the_root_is_a_demo_page_embedding_the_demo_sites_snippet()
    {
        using var dev = new ConsentApiFactory();
        using var app = dev.WithWebHostBuilder(b => b.UseEnvironment("Development").UseSetting("Demo:Seed", "true").UseSetting("Demo:SiteId", "demo-shop"));
        using var client = app.CreateClient();
        var response = await client.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<script src=\"/v1/sites/demo-shop/consent.js\" async></script>", html, StringComparison.Ordinal);
        Assert.Contains("<script type=\"text/plain\" data-consent=\"analytics\">", html, StringComparison.Ordinal);
        Assert.Contains("analytics loaded", html, StringComparison.Ordinal);
        Assert.Contains("data-consent-action=\"preferences\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("{{", html, StringComparison.Ordinal);

        // The snippet it embeds is served: the demo site was seeded.
        var script = await client.GetAsync("/v1/sites/demo-shop/consent.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("demo-shop", InlinedConfig(await script.Content.ReadAsStringAsync())["siteId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Without_the_demo_the_root_is_not_found()
    {
        using var client = factory.CreateClient();
        await AssertProblemAsync(await client.GetAsync("/"), HttpStatusCode.NotFound, "not-found");
    }
}
