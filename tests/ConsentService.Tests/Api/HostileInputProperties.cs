using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ConsentService.Tests.Api;

/// <summary>
/// One request a hostile or broken client might send to a public endpoint. <c>{site}</c> in the path
/// stands for the fixture's real site, so most requests get past the route to the code behind it.
/// </summary>
public sealed record HostileRequest(string Method, string Path, byte[]? Body, string? ContentType, (string Name, string Value)[] Headers, long? DeclaredLength)
{
    public override string ToString()
    {
        var body = Body is null ? "(none)" : Body.Length > 300 ? $"{Body.Length} bytes: {Preview(Body[..300])}…" : Preview(Body);
        return $"{Method} {(Path.Length > 300 ? Path[..300] + "…" : Path)}\n  Content-Type: {ContentType ?? "(none)"}; declared length {DeclaredLength?.ToString() ?? "(actual)"}\n" +
            string.Concat(Headers.Select(h => $"  {h.Name}: {(h.Value.Length > 200 ? h.Value[..200] + "…" : h.Value)}\n")) + $"  body: {body}";
    }

    private static string Preview(byte[] bytes) => Encoding.UTF8.GetString(bytes).Replace("\uFFFD", "�", StringComparison.Ordinal);
}

/// <summary>Generators of hostile requests: random and known-nasty values mixed.</summary>
public static class HostileRequests
{
    public static Arbitrary<HostileRequest> Request() => Arb.From(Any);

    private static readonly Gen<string> AnyText = ArbMap.Default.GeneratorFor<string>().Select(s => s ?? "");

    private static Gen<string> Nasty(params string[] known) => Gen.Frequency(
        (3, Gen.Elements(known)),
        (2, AnyText),
        (1, Gen.Choose(1, 5000).Select(n => new string('a', n))),
        (1, Gen.ArrayOf(Gen.Choose(0, 255)).Select(bytes => string.Concat(bytes.Select(b => $"%{b:X2}")))));

    /// <summary>
    /// A path segment. No %00: the test server refuses to build such a request, and Kestrel answers it
    /// with a bare 400 before the app sees it.
    /// </summary>
    private static Gen<string> Segment(string good, params string[] bad) => Gen.Frequency(
        (4, Gen.Constant(good)),
        (2, Nasty([.. bad, "", "%2F", "%2f..%2f", "..", ".", "%2e%2e", "%ff%fe", "%C3%28", "%", "%zz", "a%20b", "%E2%80%AE", "😀", "%F0%9F%98%80", "site_nope"])
            .Select(s => (s.All(c => c is > ' ' and < '\x7F' and not ('/' or '?' or '#')) ? s : Uri.EscapeDataString(s)).Replace("%00", "%01", StringComparison.Ordinal))));

    private static readonly Gen<string> Site = Segment("{site}", "demo", "SITE", "site_", "a/b");
    private static readonly Gen<string> Subject = Segment("sub_AAAAAAAAAAAAAAAAAAAAAA", "user:1", "sub_", "sub_AAAAAAAAAAAAAAAAAAAAA!");
    private static readonly Gen<string> Version = Segment("1", "0", "-1", "2", "99999999999", "2147483648", "1e3", "%31", "1.0", " 1");

    private static readonly Gen<(string Method, string Path, bool Body)> Route = Gen.OneOf(
        Site.Select(s => ("POST", $"/v1/sites/{s}/consents", true)),
        Site.Select(s => ("POST", $"/v1/sites/{s}/consents", true)),
        Site.Select(s => ("POST", $"/v1/sites/{s}/consents", true)),
        Site.Select(s => ("OPTIONS", $"/v1/sites/{s}/consents", false)),
        Site.Select(s => ("GET", $"/v1/sites/{s}/consent.js", false)),
        Site.Select(s => ("GET", $"/v1/sites/{s}/config", false)),
        Site.Select(s => ("GET", $"/v1/sites/{s}/policies", false)),
        Gen.Zip(Site, Version).Select(t => ("GET", $"/v1/sites/{t.Item1}/policies/{t.Item2}", false)),
        Gen.Zip(Site, Subject).Select(t => ("GET", $"/v1/sites/{t.Item1}/subjects/{t.Item2}/consent", false)),
        Gen.Zip(Site, Subject).Select(t => ("GET", $"/v1/sites/{t.Item1}/subjects/{t.Item2}/history", false)),
        Gen.Constant(("GET", "/v1/policy-template", false)),
        Gen.Constant(("GET", "/.well-known/consent-signing-key", false)),
        Gen.Zip(Gen.Elements("PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"), Site).Select(t => (t.Item1, $"/v1/sites/{t.Item2}/consents", true)));

    // --- Bodies.

    private static readonly Gen<string> Number = Gen.Elements("1", "0", "-1", "2", "1.5", "1e3", "1e999999", "-0", "99999999999999999999999999999", "2147483648", "NaN", "0x10", "01");

    private static readonly Gen<string> JsonString = Gen.Frequency(
        (3, Gen.Elements("accept_all", "reject_all", "custom", "withdraw", "gpc", "api", "ACCEPT_ALL", "", "analytics", "sub_AAAAAAAAAAAAAAAAAAAAAA", "https://shop.example/a?b=c", "en", "pt-BR", "\\u0000", "\\ud800", "\\uDFFF")),
        (1, AnyText.Select(s => System.Text.Json.JsonEncodedText.Encode(s).ToString())));

    private static Gen<string> Json(int depth) => depth <= 0
        ? Gen.OneOf(Number, JsonString.Select(s => $"\"{s}\""), Gen.Elements("true", "false", "null"))
        : Gen.Frequency(
            (3, Json(0)),
            (1, Gen.ListOf(Json(depth - 1), 4).Select(items => $"[{string.Join(',', items)}]")),
            (1, Gen.ListOf(Gen.Zip(JsonString, Json(depth - 1)), 4).Select(members => "{" + string.Join(',', members.Select(m => $"\"{m.Item1}\":{m.Item2}")) + "}")));

    private static readonly Gen<string> Url = Gen.Elements("https://shop.example/", "http://[", "http://[::1]:8080/a?b#c", "https://a b.example/", "http://x.example:99999/",
        "https://" + new string('a', 2100) + ".example/", "http://xn--/", "javascript:alert(1)", "\\\\server\\share", "file:///etc/passwd", "http://%zz/",
        "https://user:pw@x.example/?q=1#f", "https://x.example/\u0000", "//x.example/", "https:", "https://", "HTTPS://X.EXAMPLE/%41?%zz", "https://x.example:0/");

    private static readonly Gen<string> Locale = Gen.Elements("en", "pt-BR", "", "x", "en-", "zh-Hant-TW", "i-klingon", "en_US", "a-b-c-d-e-f-g-h-i", new string('a', 300), "\u00e9n");

    /// <summary>A decision with every field sometimes right, sometimes of a wrong type or value, sometimes missing.</summary>
    private static readonly Gen<string> Decision =
        from version in Gen.Frequency((4, Gen.Constant("1")), (1, Json(1)), (1, Number))
        from method in Gen.Frequency((4, Gen.Elements("accept_all", "reject_all", "custom", "withdraw", "gpc").Select(m => $"\"{m}\"")), (1, Json(1)))
        from purposes in Gen.Frequency(
            (3, Gen.SubListOf(new[] { "\"analytics\":true", "\"marketing\":false", "\"necessary\":true", "\"model_improvement\":true", "\"analytics\":false", "\"necessary\":false", "\"\":true", "\"unknown\":true" })
                .Select(p => "{" + string.Join(',', p) + "}")),
            (1, Json(2)))
        from subject in Gen.Frequency((3, Gen.Constant<string?>(null)), (1, Gen.Elements<string?>("\"sub_AAAAAAAAAAAAAAAAAAAAAA\"", "\"user:1\"", "\"\"", "7", "null", "\"sub_\"")))
        from source in Gen.Frequency((2, Gen.Constant<string?>(null)), (1, Json(2).Select<string, string?>(s => s)),
            (2, Gen.Zip(Gen.OneOf(JsonString, Url), Gen.OneOf(JsonString, Locale)).Select<(string, string), string?>(t => $"{{\"url\":\"{t.Item1}\",\"locale\":\"{t.Item2}\"}}")))
        from key in Gen.Frequency((3, Gen.Constant<string?>(null)), (1, JsonString.Select<string, string?>(s => $"\"{s}\"")))
        from secret in Gen.Frequency((3, Gen.Constant<string?>(null)),
            (1, Gen.Elements<string?>("\"Xy3_kQ9-vL2mN7pR4sT8wZ\"", "\"AAAAAAAAAAAAAAAAAAAAAA\"", "\"short\"", "\"\"", "7", "null", "{}")))
        from extra in Gen.Frequency((4, Gen.Constant("")), (1, Gen.Elements(",\"unknown\":1", ",\"policyVersion\":2", ",\"purposes\":null", ",\"\":{}")))
        from dropVersion in Gen.Frequency((6, Gen.Constant(false)), (1, Gen.Constant(true)))
        select "{" + string.Join(',', new[]
        {
            dropVersion ? null : $"\"policyVersion\":{version}",
            $"\"method\":{method}",
            $"\"purposes\":{purposes}",
            subject is null ? null : $"\"subjectId\":{subject}",
            source is null ? null : $"\"source\":{source}",
            key is null ? null : $"\"idempotencyKey\":{key}",
            secret is null ? null : $"\"subjectSecret\":{secret}",
        }.OfType<string>()) + extra + "}";

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static readonly Gen<byte[]> Body = Gen.Frequency(
        (6, Decision.Select(Utf8)),
        (2, Json(3).Select(Utf8)),
        (1, AnyText.Select(Utf8)),
        (1, Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)).Select(b => b.ToArray())),
        (1, Gen.Choose(1, 20000).Select(n => Utf8(new string('[', n) + new string(']', n)))),
        (1, Gen.Choose(1, 3000).Select(n => Utf8(string.Concat(Enumerable.Repeat("{\"a\":", n)) + "1" + new string('}', n)))),
        (1, Gen.Choose(16 * 1024 - 10, 16 * 1024 + 10).Select(n => Utf8("{\"policyVersion\":1,\"method\":\"custom\",\"x\":\"" + new string('x', n) + "\"}"))),
        // Invalid UTF-8 inside otherwise valid JSON: a lone continuation byte, an overlong '/', a truncated sequence, a surrogate.
        (1, Gen.Elements<byte[]>([0x80], [0xC0, 0xAF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xFF, 0xFE]).Select(bad =>
            (byte[])[.. Utf8("{\"policyVersion\":1,\"method\":\"custom\",\"source\":{\"locale\":\""), .. bad, .. Utf8("\"}}")])),
        (1, Decision.Select(d => (byte[])[0xEF, 0xBB, 0xBF, .. Utf8(d)])),
        (1, Gen.Elements("", " ", "null", "[]", "\"x\"", "{", "}", "{}", "{\"policyVersion\":1,\"method\":\"custom\"}{}", "{'policyVersion':1}").Select(Utf8)));

    private static readonly Gen<string?> ContentType = Gen.Frequency(
        (6, Gen.Elements<string?>("text/plain", "application/json", "text/plain; charset=utf-8", "application/json; charset=UTF-8")),
        (2, Gen.Elements<string?>(null, "text/plain; charset=iso-8859-1", "application/json; charset=utf-16", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "text/html", "*/*", "application/json; charset=", "application/merge-patch+json", "garbage", ";;;", "text/plain; charset=\"utf-8\"")),
        (1, AnyText.Select<string, string?>(s => s)));

    private static readonly Gen<(string, string)> Header = Gen.OneOf(
        Nasty("dec_1", "", " ", new string('k', 256), "é", "a b", "\t").Select(v => ("Idempotency-Key", v)),
        Nasty("https://shop.example", "http://localhost", "https://evil.example", "null", "", "https://shop.example/", "https://shop.example:443",
            "javascript:alert(1)", "https://user@shop.example", "https://shop.example, https://evil.example").Select(v => ("Origin", v)),
        Nasty("Bearer ", "Bearer csk_nope", "Bearer cso_test-operator-key-0123456789abcdeX", "Basic dXNlcjpwYXNz", "bearer", "Bearer " + new string('x', 5000)).Select(v => ("Authorization", v)),
        Nasty("gzip", "*", "gzip;q=0", "br, gzip;q=abc", "identity").Select(v => ("Accept-Encoding", v)),
        Nasty("US", "", "XX", "us").Select(v => ("CF-IPCountry", v)),
        Nasty("\"x\"", "*", "W/\"x\"", "\"").Select(v => ("If-None-Match", v)),
        Nasty("Mozilla/5.0", "").Select(v => ("User-Agent", v)),
        Nasty("POST", "").Select(v => ("Access-Control-Request-Method", v)));

    /// <summary>A well-formed post to the real site with one field or header at a time going wrong: it reaches validation and the ledger.</summary>
    private static readonly Gen<string> ValidDecision =
        from method in Gen.Elements("accept_all", "reject_all", "custom", "withdraw")
        from analytics in Gen.Elements("true", "false")
        from locale in Gen.Elements("en", "de", "pt-BR")
        select $"{{\"policyVersion\":1,\"method\":\"{method}\"{(method == "custom" ? $",\"purposes\":{{\"analytics\":{analytics}}}" : "")},\"source\":{{\"url\":\"https://shop.example/p?q=1\",\"locale\":\"{locale}\"}}}}";

    private static readonly Gen<HostileRequest> NearlyValid =
        from body in Gen.Frequency((1, ValidDecision), (2, Decision))
        from contentType in Gen.Elements("text/plain", "application/json")
        from headers in Gen.ListOf(Gen.Frequency((3, Gen.Elements(("Idempotency-Key", "dec_1"), ("Idempotency-Key", "dec_2"), ("Origin", "https://shop.example"))), (1, Header)), 1)
        select new HostileRequest("POST", "/v1/sites/{site}/consents", Utf8(body), contentType, [.. headers], null);

    private static readonly Gen<HostileRequest> Hostile =
        from route in Route
        from body in Gen.Frequency((1, Gen.Constant<byte[]?>(null)), (5, Body.Select<byte[], byte[]?>(b => b)))
        from contentType in ContentType
        from headers in Gen.ListOf(Header, 4)
        from declared in Gen.Frequency((12, Gen.Constant<long?>(null)), (1, Gen.Elements<long?>(16 * 1024 + 1, 1_000_000_000, long.MaxValue)))
        select new HostileRequest(route.Method, route.Path, route.Body ? body : null, route.Body ? contentType : null, [.. headers], route.Body && body is not null ? declared : null);

    // Last: static fields initialise in order, and this one needs all the others.
    private static readonly Gen<HostileRequest> Any = Gen.Frequency((2, Hostile), (1, NearlyValid));
}

/// <summary>The service under test, with one site whose id the generated paths name.</summary>
public sealed class HostileInputFactory : IAsyncLifetime
{
    public ConsentApiFactory Factory { get; } = new()
    {
        // Limits out of the way: this test is about what the endpoints do with what gets through.
        Settings = new Dictionary<string, string>
        {
            ["RateLimits:PublicReads:PermitLimit"] = "10000000",
            ["RateLimits:PublicWrites:PermitLimit"] = "10000000",
            ["RateLimits:PerClient:PermitLimit"] = "10000000",
            ["RateLimits:Keys:PermitLimit"] = "10000000",
            ["RateLimits:Checks:PermitLimit"] = "10000000",
        },
    };

    public HttpClient Client { get; private set; } = null!;

    public TestSite Site { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Site = await Factory.CreateSiteAsync();
        Client = Factory.CreateClient();
    }

    public Task DisposeAsync()
    {
        Client.Dispose();
        Factory.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class HostileInputProperties(HostileInputFactory fixture) : IClassFixture<HostileInputFactory>
{
    private static readonly string[] Tables = ["consents", "api_keys", "sites"];

    /// <summary>
    /// Never a 5xx; every error an RFC 9457 problem with one of our type URIs; nothing written unless
    /// the answer was 201 (then exactly one record). About 1000 requests, under 10 s.
    /// </summary>
    [Property(MaxTest = 1000, Arbitrary = [typeof(HostileRequests)])]
    public async Task Public_endpoints_answer_hostile_requests_with_problems_and_write_nothing(HostileRequest generated)
    {
        var factory = fixture.Factory;
        var before = await CountAsync(factory);

        using var request = new HttpRequestMessage(new HttpMethod(generated.Method), generated.Path.Replace("{site}", fixture.Site.Id, StringComparison.Ordinal));
        if (generated.Body is not null)
        {
            request.Content = new ByteArrayContent(generated.Body);
            if (generated.ContentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", generated.ContentType);
            if (generated.DeclaredLength is { } declared) request.Content.Headers.ContentLength = declared;
        }
        foreach (var (name, value) in generated.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await fixture.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        Assert.True(status < 500, $"{status} for\n{generated}\n{text}");
        if (status >= 400)
        {
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{status} {response.Content.Headers.ContentType} for\n{generated}\n{text}");
            var type = JsonNode.Parse(text)?["type"]?.GetValue<string>();
            Assert.True(type?.StartsWith("urn:consentservice:problem:", StringComparison.Ordinal) == true, $"type {type} for\n{generated}\n{text}");
        }

        var after = await CountAsync(factory);
        var recorded = response.StatusCode == HttpStatusCode.Created && !response.Headers.Contains("Idempotent-Replayed");
        var expected = recorded
            ? [before[0] + 1, before[1], before[2]]
            : before;
        Assert.True(expected.SequenceEqual(after), $"rows {string.Join('/', before)} → {string.Join('/', after)} after {status} for\n{generated}\n{text}");
    }

    private static async Task<long[]> CountAsync(ConsentApiFactory factory)
    {
        var counts = new long[Tables.Length];
        for (var i = 0; i < Tables.Length; i++) counts[i] = await factory.CountRowsAsync(Tables[i]);
        return counts;
    }
}
