using System.Net;
using System.Net.Http.Headers;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>HEAD answers wherever GET does: the same status and headers, no body.</summary>
public sealed class HeadRequestTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    /// <summary>Every GET route: path (site as {site}, a record as {record}, a subject as {subject}) and the key it needs.</summary>
    public static TheoryData<string, string> GetRoutes => new()
    {
        { "/v1/sites/{site}/consent.js", "none" },
        { "/v1/sites/{site}/config", "none" },
        { "/v1/sites/{site}/policies", "none" },
        { "/v1/sites/{site}/policies/1", "none" },
        { "/v1/sites/nope/consent.js", "none" },
        { "/v1/policy-template", "none" },
        { "/health/live", "none" },
        { "/health/ready", "none" },
        { "/.well-known/consent-signing-key", "none" },
        { "/openapi/v1.json", "none" },
        { "/v1/sites/{site}", "admin" },
        { "/v1/sites/{site}/keys", "admin" },
        { "/v1/sites/{site}/subjects/{subject}/consent", "check" },
        { "/v1/sites/{site}/subjects/{subject}/history", "legal" },
        { "/v1/sites/{site}/subjects/{subject}/export", "legal" },
        { "/v1/sites/{site}/consents?limit=5", "legal" },
        { "/v1/sites/{site}/consents/export?format=csv", "legal" },
        { "/v1/sites/{site}/consents/{record}", "legal" },
        { "/v1/sites/{site}/stats", "legal" },
        { "/v1/sites/{site}/ledger/verify", "legal" },
        { "/v1/sites/{site}/ledger/checkpoints", "legal" },
        { "/v1/sites/{site}/audit/logs", "admin" },
        { "/v1/sites/{site}/audit/logs/export", "admin" },
        { "/v1/sites/{site}/stats?to=0001-01-02", "legal" },
        { "/v1/sites/{site}/stats", "none" },
    };

    private TestSite? _site;
    private string _subject = "";
    private string _record = "";

    private async Task<TestSite> SiteAsync()
    {
        if (_site is not null) return _site;
        _site = await factory.CreateSiteAsync();
        _subject = NewSubjectId();
        _record = (await factory.RecordAsync(_site.Id, new { subjectId = _subject, policyVersion = 1, method = "accept_all" }))["id"]!.GetValue<string>();
        return _site;
    }

    [Theory]
    [MemberData(nameof(GetRoutes))]
    public async Task Head_answers_like_get_without_a_body(string route, string role)
    {
        var site = await SiteAsync();
        var path = route.Replace("{site}", site.Id, StringComparison.Ordinal).Replace("{subject}", _subject, StringComparison.Ordinal)
            .Replace("{record}", _record, StringComparison.Ordinal);
        using var client = factory.ClientWithKey(role switch
        {
            "admin" => site.AdminKey, "legal" => site.LegalKey, "check" => site.CheckKey, _ => null,
        });

        using var get = await client.GetAsync(path);
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(get.StatusCode, head.StatusCode);
        Assert.NotEqual(HttpStatusCode.MethodNotAllowed, head.StatusCode);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.Equal(get.Headers.CacheControl, head.Headers.CacheControl);
        Assert.Equal(get.Content.Headers.ContentDisposition?.FileNameStar is null, head.Content.Headers.ContentDisposition?.FileNameStar is null);
        // Only the script sets a Content-Length itself (HttpClient computes one for any buffered GET body).
        if (get.Content.Headers.ContentLength is { } length && get.StatusCode == HttpStatusCode.OK && route.EndsWith(".js", StringComparison.Ordinal))
        {
            Assert.Equal(length, head.Content.Headers.ContentLength);
        }
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Head_of_the_script_has_its_etag_and_length_and_is_304_when_it_matches(bool gzip)
    {
        var site = await SiteAsync();
        using var client = factory.CreateClient();
        if (gzip) client.DefaultRequestHeaders.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        var path = $"/v1/sites/{site.Id}/consent.js";

        using var get = await client.GetAsync(path);
        var bytes = await get.Content.ReadAsByteArrayAsync();
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.NotNull(get.Headers.ETag);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Equal(bytes.Length, head.Content.Headers.ContentLength);
        Assert.Equal(get.Content.Headers.ContentEncoding, head.Content.Headers.ContentEncoding);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());

        using var conditional = new HttpRequestMessage(HttpMethod.Head, path);
        conditional.Headers.IfNoneMatch.Add(get.Headers.ETag!);
        using var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(get.Headers.ETag, notModified.Headers.ETag);
    }

    [Fact]
    public async Task Head_on_a_route_without_get_is_405_and_changes_nothing()
    {
        var site = await SiteAsync();
        using var client = factory.ClientWithKey(site.AdminKey);
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/sites/{site.Id}/subjects/{_subject}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, head.StatusCode);
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));
        using var check = factory.ClientWithKey(site.CheckKey);
        var state = await ReadJsonAsync(await check.GetAsync($"/v1/sites/{site.Id}/subjects/{_subject}/consent"));
        Assert.True(state["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
    }
}
