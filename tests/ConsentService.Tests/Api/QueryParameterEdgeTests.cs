using System.Net;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>
/// Every date and number of every query string at its edges (the first and last instants a
/// DateTimeOffset can hold, offsets that push them over, numbers beyond int and long, negatives):
/// a 400 naming the parameter, or a correct answer, never a 500; and nothing is written.
/// </summary>
public sealed class QueryParameterEdgeTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    /// <summary>path and query (site id as {site}), role of the key, expected status, field at fault (400 only).</summary>
    public static TheoryData<string, string, int, string?> Cases => new()
    {
        // Stats: a default 'from' of 30 days before 'to' once went below DateTimeOffset.MinValue (500).
        { "stats?to=0001-01-02", "legal", 400, "to" },
        { "stats?to=0001-01-02T00:00:00Z", "legal", 400, "to" },
        { "stats?from=0001-01-01&to=0001-01-02", "legal", 200, null },
        { "stats?from=0001-01-01", "legal", 200, null },
        { "stats?to=9999-12-31T23:59:59Z", "legal", 200, null },
        { "stats?from=9999-12-31", "legal", 400, "to" },
        { "stats?to=9999-12-31T23:59:59-01:00", "legal", 400, "to" },
        { "stats?from=0001-01-01T00:00:00%2B01:00", "legal", 400, "from" },
        { "stats?from=yesterday", "legal", 400, "from" },
        { "stats?groupBy=month", "legal", 400, "groupBy" },
        // Consent query and export.
        { "consents?from=0001-01-01&to=9999-12-31T23:59:59.9999999Z", "legal", 200, null },
        { "consents?to=0001-01-01", "legal", 200, null },
        { "consents?from=0001-01-01T00:00:00%2B14:00", "legal", 400, "from" },
        { "consents?to=9999-12-31T23:59:59-14:00", "legal", 400, "to" },
        { "consents?limit=0", "legal", 400, "limit" },
        { "consents?limit=-1", "legal", 400, "limit" },
        { "consents?limit=1001", "legal", 400, "limit" },
        { "consents?limit=2147483648", "legal", 400, "limit" },
        { "consents?limit=99999999999999999999", "legal", 400, "limit" },
        { "consents?policyVersion=-2147483648", "legal", 400, "policyVersion" },
        { "consents?policyVersion=2147483648", "legal", 400, "policyVersion" },
        { "consents?cursor=cDkyMjMzNzIwMzY4NTQ3NzU4MDc", "legal", 200, null }, // p9223372036854775807
        { "consents?cursor=cDkyMjMzNzIwMzY4NTQ3NzU4MDg", "legal", 400, "cursor" }, // one past long.MaxValue
        { "consents?cursor=cC0x", "legal", 400, "cursor" }, // p-1
        { "consents/export?format=ndjson&from=0001-01-01&to=9999-12-31", "legal", 200, null },
        { "consents/export?format=csv&to=0001-01-01T00:00:00%2B00:01", "legal", 400, "to" },
        // Audit log.
        { "audit/logs?from=0001-01-01&to=9999-12-31T23:59:59.9999999Z", "admin", 200, null },
        { "audit/logs?from=0001-01-01T00:00:00%2B14:00", "admin", 400, "from" },
        { "audit/logs?to=9999-12-31T23:59:59-14:00", "admin", 400, "to" },
        { "audit/logs?limit=2147483648", "admin", 400, "limit" },
        { "audit/logs?limit=-5", "admin", 400, "limit" },
        { "audit/logs?outcome=99999999999", "admin", 400, "outcome" },
        { "audit/logs/export?from=0001-01-01&to=9999-12-31", "admin", 200, null },
        // Ledger consistency: tree sizes.
        { "ledger/consistency?first=-1&second=1", "legal", 400, "first" },
        { "ledger/consistency?first=1&second=9223372036854775808", "legal", 400, "second" },
        { "ledger/consistency?first=9223372036854775807&second=9223372036854775807", "legal", 400, "first" },
        // Policy version in the path.
        { "policies/2147483648", "none", 404, null },
        { "policies/-1", "none", 404, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Edge_values_answer_4xx_naming_the_parameter_or_a_correct_answer_never_500(string pathAndQuery, string role, int status, string? field)
    {
        var site = await SiteAsync();
        var key = role switch { "legal" => site.LegalKey, "admin" => site.AdminKey, _ => null };
        using var client = factory.ClientWithKey(key);
        var before = await CountAsync(site.Id);

        var response = await client.GetAsync($"/v1/sites/{site.Id}/{pathAndQuery}");

        if (status == 400)
        {
            await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation", field);
        }
        else
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        }
        Assert.Equal(before, await CountAsync(site.Id));
    }

    private TestSite? _site;

    private async Task<TestSite> SiteAsync()
    {
        if (_site is not null) return _site;
        _site = await factory.CreateSiteAsync();
        await factory.RecordAsync(_site.Id, new { policyVersion = 1, method = "accept_all" });
        return _site;
    }

    private async Task<(long, long)> CountAsync(string siteId) =>
        (await factory.CountRowsAsync("consents", siteId), await factory.CountRowsAsync("checkpoints", siteId));
}
