using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>
/// Issue 13: consent.js and config are served from bytes built once per variant, in identity,
/// gzip and Brotli, each with its own strong ETag, and revalidated with 304.
/// </summary>
public sealed class SnippetEncodingTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    public static TheoryData<string> Paths => new() { "consent.js", "config" };

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? acceptEncoding, string? ifNoneMatch = null, HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Get, path);
        if (acceptEncoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        if (ifNoneMatch is not null) request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        return await client.SendAsync(request);
    }

    private static byte[] Decode(string? encoding, byte[] wire)
    {
        if (encoding is null) return wire;
        using Stream decoder = encoding switch
        {
            "br" => new BrotliStream(new MemoryStream(wire), CompressionMode.Decompress),
            "gzip" => new GZipStream(new MemoryStream(wire), CompressionMode.Decompress),
            _ => throw new InvalidOperationException(encoding),
        };
        using var plain = new MemoryStream();
        decoder.CopyTo(plain);
        return plain.ToArray();
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Brotli_gzip_and_identity_are_chosen_from_accept_encoding_and_decode_to_the_same_bytes(string file)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var path = $"/v1/sites/{site.Id}/{file}";

        var cases = new (string? Accept, string? Expected)[]
        {
            (null, null),
            ("gzip, deflate, br", "br"),
            ("br;q=0.1, gzip;q=1", "br"),
            ("gzip", "gzip"),
            ("br;q=0, gzip", "gzip"),
            ("BR;Q=0.000, *", "gzip"),
            ("*", "br"),
            ("*;q=0", null),
            ("gzip;q=0, br;q=0", null),
            ("deflate, identity", null),
        };
        byte[]? plain = null;
        var tags = new Dictionary<string, EntityTagHeaderValue>();
        foreach (var (accept, expected) in cases)
        {
            using var response = await GetAsync(client, path, accept);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(expected, response.Content.Headers.ContentEncoding.SingleOrDefault());
            Assert.Contains("Accept-Encoding", response.Headers.Vary);
            Assert.Equal("public, max-age=300", response.Headers.CacheControl!.ToString());
            var wire = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(wire.Length, response.Content.Headers.ContentLength);
            var decoded = Decode(expected, wire);
            plain ??= decoded;
            Assert.Equal(plain, decoded);

            var etag = response.Headers.ETag!;
            Assert.False(etag.IsWeak);
            if (tags.TryGetValue(expected ?? "identity", out var seen)) Assert.Equal(seen, etag);
            tags[expected ?? "identity"] = etag;
        }
        // One strong tag per representation.
        Assert.Equal(3, tags.Values.Select(t => t.Tag).Distinct().Count());
        Assert.EndsWith("-br\"", tags["br"].Tag, StringComparison.Ordinal);
        Assert.EndsWith("-gz\"", tags["gzip"].Tag, StringComparison.Ordinal);

        // Brotli is the smaller of the two compressed forms for the default policy.
        using var br = await GetAsync(client, path, "br");
        using var gz = await GetAsync(client, path, "gzip");
        Assert.True((await br.Content.ReadAsByteArrayAsync()).Length < (await gz.Content.ReadAsByteArrayAsync()).Length);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task If_none_match_is_304_for_the_tag_of_the_chosen_encoding_only(string file)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var path = $"/v1/sites/{site.Id}/{file}";

        foreach (var accept in new string?[] { "br", "gzip", null })
        {
            using var first = await GetAsync(client, path, accept);
            var tag = first.Headers.ETag!.Tag;

            foreach (var ifNoneMatch in new[] { tag, $"\"nope\", {tag}", $"W/{tag}", "*" })
            {
                foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
                {
                    using var notModified = await GetAsync(client, path, accept, ifNoneMatch, method);
                    Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
                    Assert.Equal(tag, notModified.Headers.ETag!.Tag);
                    Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
                    Assert.Contains("Accept-Encoding", notModified.Headers.Vary);
                }
            }

            // The same bytes in another encoding are another representation: not a match.
            var other = accept == "br" ? "gzip" : "br";
            using var otherEncoding = await GetAsync(client, path, other, tag);
            Assert.Equal(HttpStatusCode.OK, otherEncoding.StatusCode);
            using var unrelated = await GetAsync(client, path, accept, "\"something-else\", W/\"x\"");
            Assert.Equal(HttpStatusCode.OK, unrelated.StatusCode);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Head_has_the_etag_length_and_encoding_of_get_without_a_body(string file)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var path = $"/v1/sites/{site.Id}/{file}";
        foreach (var accept in new string?[] { "br", "gzip", null })
        {
            using var get = await GetAsync(client, path, accept);
            using var head = await GetAsync(client, path, accept, method: HttpMethod.Head);
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(get.Headers.ETag, head.Headers.ETag);
            Assert.Equal((await get.Content.ReadAsByteArrayAsync()).Length, head.Content.Headers.ContentLength);
            Assert.Equal(get.Content.Headers.ContentEncoding, head.Content.Headers.ContentEncoding);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task A_published_policy_changes_every_encodings_bytes_and_etag_on_the_next_request(string file)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var path = $"/v1/sites/{site.Id}/{file}";
        var before = new Dictionary<string, (string Tag, byte[] Plain)>();
        foreach (var accept in new[] { "br", "gzip", "identity" })
        {
            using var response = await GetAsync(client, path, accept);
            before[accept] = (response.Headers.ETag!.Tag, Decode(response.Content.Headers.ContentEncoding.SingleOrDefault(), await response.Content.ReadAsByteArrayAsync()));
        }

        using var admin = factory.ClientWithKey(site.AdminKey);
        var policy = await ReadJsonAsync(await admin.GetAsync("/v1/policy-template"));
        policy["texts"]!["en"]!["title"] = "Freshly published title";
        await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies", policy), HttpStatusCode.Created);

        foreach (var accept in new[] { "br", "gzip", "identity" })
        {
            using var response = await GetAsync(client, path, accept, before[accept].Tag);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.NotEqual(before[accept].Tag, response.Headers.ETag!.Tag);
            var plain = Decode(response.Content.Headers.ContentEncoding.SingleOrDefault(), await response.Content.ReadAsByteArrayAsync());
            Assert.NotEqual(before[accept].Plain, plain);
            Assert.Contains("Freshly published title", System.Text.Encoding.UTF8.GetString(plain), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_config_bytes_are_the_same_object_consent_js_inlines()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        using var response = await GetAsync(client, $"/v1/sites/{site.Id}/config", "br");
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var config = JsonNode.Parse(Decode("br", await response.Content.ReadAsByteArrayAsync()))!.AsObject();
        Assert.Equal(site.Id, config["siteId"]!.GetValue<string>());
        Assert.Equal(1, config["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task Auto_mode_varies_on_the_country_and_keeps_one_variant_per_jurisdiction()
    {
        var site = await factory.CreateSiteAsync();
        using var admin = factory.ClientWithKey(site.AdminKey);
        await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { jurisdictionMode = "auto" }));
        using var client = factory.CreateClient();
        var path = $"/v1/sites/{site.Id}/config";

        var us = new HttpRequestMessage(HttpMethod.Get, path);
        us.Headers.Add("CF-IPCountry", "US");
        using var usResponse = await client.SendAsync(us);
        using var euResponse = await GetAsync(client, path, null);
        Assert.Contains("CF-IPCountry", usResponse.Headers.Vary);
        Assert.Equal("ccpa", (await usResponse.Content.ReadFromJsonAsync<JsonObject>())!["jurisdiction"]!.GetValue<string>());
        Assert.Equal("gdpr", (await euResponse.Content.ReadFromJsonAsync<JsonObject>())!["jurisdiction"]!.GetValue<string>());
        Assert.NotEqual(usResponse.Headers.ETag, euResponse.Headers.ETag);
    }
}
