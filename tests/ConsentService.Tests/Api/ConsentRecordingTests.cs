using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

public sealed class ConsentRecordingTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private const string ChromeOnLinux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    [Theory]
    [InlineData("text/plain")]
    [InlineData("text/plain; charset=UTF-8")]
    [InlineData("application/json")]
    public async Task A_decision_is_recorded_from_json_or_plain_text(string contentType)
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.UserAgent.ParseAdd(ChromeOnLinux);
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sites/{site.Id}/consents")
        {
            Content = new StringContent("""{"policyVersion":1,"method":"accept_all","source":{"url":"https://shop.example/cart?coupon=SECRET#top","locale":"de-AT"}}"""),
        };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        var response = await client.SendAsync(request);
        var record = await ReadJsonAsync(response, HttpStatusCode.Created);

        var id = record["id"]!.GetValue<string>();
        Assert.Equal($"/v1/sites/{site.Id}/consents/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal('7', Guid.Parse(id).ToString()[14]); // UUIDv7: time-ordered
        Assert.Matches("^sub_[A-Za-z0-9_-]{22}$", record["subjectId"]!.GetValue<string>());
        Assert.Equal(1, record["sequence"]!.GetValue<long>());
        Assert.Equal(1, record["policyVersion"]!.GetValue<int>());
        Assert.Equal("accept_all", record["method"]!.GetValue<string>());
        Assert.Equal(factory.Time.GetUtcNow(), record["recordedAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(
            new Dictionary<string, bool> { ["necessary"] = true, ["analytics"] = true, ["marketing"] = true, ["model_improvement"] = true },
            record["purposes"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<bool>()));
        Assert.Equal("https://shop.example/cart", record["source"]!["url"]!.GetValue<string>());
        Assert.Equal("de-AT", record["source"]!["locale"]!.GetValue<string>());
        Assert.Equal("gdpr", record["source"]!["jurisdiction"]!.GetValue<string>());
        Assert.Equal("Chrome 131 (Linux)", record["source"]!["userAgent"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{64}$", record["hash"]!.GetValue<string>());
        Assert.Null(record["prevHash"]);

        using var policy = factory.CreateClient();
        var contentHash = (await ReadJsonAsync(await policy.GetAsync($"/v1/sites/{site.Id}/policies/1")))["contentHash"]!.GetValue<string>();
        Assert.Equal(contentHash, record["policyHash"]!.GetValue<string>());
    }

    [Fact]
    public async Task Omitted_optional_purposes_are_refused_and_required_ones_always_granted()
    {
        var site = await factory.CreateSiteAsync();
        var record = await factory.RecordAsync(site.Id, new { policyVersion = 1, method = "custom", purposes = new { analytics = true } });
        Assert.True(record["purposes"]!["necessary"]!.GetValue<bool>());
        Assert.True(record["purposes"]!["analytics"]!.GetValue<bool>());
        Assert.False(record["purposes"]!["marketing"]!.GetValue<bool>());
        Assert.False(record["purposes"]!["model_improvement"]!.GetValue<bool>());

        var rejected = await factory.RecordAsync(site.Id, new { policyVersion = 1, method = "reject_all" });
        Assert.Equal([true, false, false, false], rejected["purposes"]!.AsObject().Select(p => p.Value!.GetValue<bool>()));
    }

    [Fact]
    public async Task A_snippet_minted_id_keeps_one_chain_across_decisions()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        var first = await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        factory.Time.Advance(TimeSpan.FromMinutes(5));
        var second = await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "withdraw" });

        Assert.Equal(subject, second["subjectId"]!.GetValue<string>());
        Assert.Equal(2, second["sequence"]!.GetValue<long>());
        Assert.Equal(first["hash"]!.GetValue<string>(), second["prevHash"]!.GetValue<string>());
        Assert.NotEqual(first["hash"]!.GetValue<string>(), second["hash"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_retry_with_the_same_idempotency_key_returns_the_first_result_and_writes_nothing()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        // No subjectId: the service mints it; the secret names the caller the key is scoped to.
        var body = new { policyVersion = 1, method = "reject_all", subjectSecret = SecretOf("decision-42") };

        var first = await ReadJsonAsync(await client.PostConsentAsync(site.Id, body, idempotencyKey: "decision-42"), HttpStatusCode.Created);
        factory.Time.Advance(TimeSpan.FromSeconds(30));
        var retry = await client.PostConsentAsync(site.Id, body, idempotencyKey: "decision-42");
        var replayed = await ReadJsonAsync(retry, HttpStatusCode.Created);

        // The same record; its receipt is signed afresh (a batch of its own, a new head) over the same record.
        Assert.Equal(ReceiptPayload(first), ReceiptPayload(replayed));
        first.Remove("receipt");
        replayed.Remove("receipt");
        Assert.Equal(first.ToJsonString(), replayed.ToJsonString());
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));

        // The same key on another site is another request.
        var other = await factory.CreateSiteAsync();
        Assert.Equal(HttpStatusCode.Created, (await client.PostConsentAsync(other.Id, body, idempotencyKey: "decision-42")).StatusCode);
    }

    [Fact]
    public async Task Concurrent_decisions_for_one_subject_get_every_sequence_number_once()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        const int writers = 30;
        var responses = await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(async () =>
        {
            using var client = factory.CreateClient();
            return await client.PostConsentAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = i % 2 == 0 ? "accept_all" : "reject_all" });
        })));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        using var legal = factory.ClientWithKey(site.LegalKey);
        var history = (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history")))["records"]!.AsArray();
        Assert.Equal(Enumerable.Range(1, writers).Select(i => (long)i), history.Select(r => r!["sequence"]!.GetValue<long>()));
        for (var i = 1; i < history.Count; i++)
        {
            Assert.Equal(history[i - 1]!["hash"]!.GetValue<string>(), history[i]!["prevHash"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task The_site_back_end_writes_its_own_user_ids_with_an_admin_key()
    {
        var site = await factory.CreateSiteAsync();
        using var backEnd = factory.ClientWithKey(site.AdminKey);
        var record = await ReadJsonAsync(await backEnd.PostConsentAsync(site.Id,
            new { subjectId = "user:1042", policyVersion = 1, method = "api", purposes = new { model_improvement = true } }, "application/json"), HttpStatusCode.Created);
        Assert.Equal("user:1042", record["subjectId"]!.GetValue<string>());
        Assert.Equal("api", record["method"]!.GetValue<string>());

        using var checker = factory.ClientWithKey(site.CheckKey);
        var check = await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{site.Id}/subjects/user:1042/consent?purpose=model_improvement"));
        Assert.True(check["granted"]!.GetValue<bool>());

        // Without a key, nobody can write for that user.
        using var stranger = factory.CreateClient();
        await AssertProblemAsync(await stranger.PostConsentAsync(site.Id, new { subjectId = "user:1042", policyVersion = 1, method = "reject_all" }),
            HttpStatusCode.BadRequest, "validation", "subjectId");
        // A key of a lesser role is not enough either, and a key of another site finds no site.
        await AssertProblemAsync(await checker.PostConsentAsync(site.Id, new { subjectId = "user:1042", policyVersion = 1, method = "api" }),
            HttpStatusCode.Forbidden, "forbidden");
        var other = await factory.CreateSiteAsync();
        using var otherAdmin = factory.ClientWithKey(other.AdminKey);
        await AssertProblemAsync(await otherAdmin.PostConsentAsync(site.Id, new { subjectId = "user:1042", policyVersion = 1, method = "api" }),
            HttpStatusCode.NotFound, "not-found");
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task History_lists_every_record_oldest_first_for_legal()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        foreach (var method in new[] { "accept_all", "custom", "withdraw" })
        {
            await factory.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method, source = new { url = "https://shop.example/" } });
            factory.Time.Advance(TimeSpan.FromHours(1));
        }

        using var legal = factory.ClientWithKey(site.LegalKey);
        var history = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history"));
        Assert.Equal(subject, history["subjectId"]!.GetValue<string>());
        var records = history["records"]!.AsArray();
        Assert.Equal(["accept_all", "custom", "withdraw"], records.Select(r => r!["method"]!.GetValue<string>()));
        Assert.Equal([1L, 2L, 3L], records.Select(r => r!["sequence"]!.GetValue<long>()));
        var times = records.Select(r => r!["recordedAt"]!.GetValue<DateTimeOffset>()).ToList();
        Assert.Equal(times.Order(), times);
        Assert.All(records, r => Assert.Equal("https://shop.example/", r!["source"]!["url"]!.GetValue<string>()));

        await AssertProblemAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{NewSubjectId()}/history"), HttpStatusCode.NotFound, "not-found");
    }

    private static string ReceiptPayload(JsonObject created) => created["receipt"]!["record"]!.ToJsonString() + created["receipt"]!["hash"];
}
