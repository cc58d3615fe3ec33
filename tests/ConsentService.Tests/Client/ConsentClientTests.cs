using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Client;
using Microsoft.AspNetCore.Builder;
using ConsentService.Tests.Api;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Client;

/// <summary>
/// ConsentService.Client against the real service: a product back end (the README's example, on a test server of its
/// own) checks visitors' receipts offline; the only request it makes to the service is the JWK set's fetch.
/// </summary>
public sealed class ConsentClientTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    /// <summary>Counts what the product back end asks the service, and passes it on to the service's test server.</summary>
    private sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        public List<string> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Requests) Requests.Add($"{request.Method} {request.RequestUri!.PathAndQuery}");
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed record Product(WebApplication App, HttpClient Client, CountingHandler Calls, FakeTimeProvider Time) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await App.DisposeAsync();
        }
    }

    private async Task<Product> StartProductAsync(string siteId, ConsentApiFactory? service = null)
    {
        var calls = new CountingHandler((service ?? factory).Server.CreateHandler());
        var time = new FakeTimeProvider(factory.Time.GetUtcNow());
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddHttpClient(ConsentServiceCollectionExtensions.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => calls);
        var app = ReadmeExample.Build(builder, new Uri("http://consent.test/"), siteId);
        await app.StartAsync();
        return new Product(app, app.GetTestClient(), calls, time);
    }

    private static async Task<HttpResponseMessage> AskAsync(Product product, string? receipt, bool asCookie = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/recommendations");
        if (receipt is not null)
        {
            if (asCookie) request.Headers.Add("Cookie", "consent_receipt=" + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(receipt)));
            else request.Headers.Add("Consent-Receipt", receipt);
        }
        return await product.Client.SendAsync(request);
    }

    private static async Task<JsonObject> RefusedAsync(HttpResponseMessage response)
    {
        var problem = await ReadJsonAsync(response, HttpStatusCode.Forbidden);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:consentservice:problem:consent-required", problem["type"]!.GetValue<string>());
        return problem;
    }

    private async Task<string> ReceiptAsync(string siteId, string method, object? purposes = null)
    {
        var created = await factory.RecordAsync(siteId, purposes is null ? new { policyVersion = 1, method } : new { policyVersion = 1, method, purposes });
        return created["receipt"]!.ToJsonString();
    }

    [Fact]
    public async Task A_valid_receipt_passes_with_no_call_to_the_service_after_the_key_set_fetch()
    {
        var site = await factory.CreateSiteAsync();
        var receipt = await ReceiptAsync(site.Id, "custom", new { analytics = true });
        await using var product = await StartProductAsync(site.Id);

        for (var i = 0; i < 5; i++)
        {
            var answer = await ReadJsonAsync(await AskAsync(product, receipt, asCookie: i == 4));
            Assert.True(answer["personalised"]!.GetValue<bool>());
            Assert.Equal(JsonNode.Parse(receipt)!["record"]!["id"]!.GetValue<string>(), answer["record"]!.GetValue<string>());
        }

        Assert.Equal(["GET /.well-known/consent-signing-key"], product.Calls.Requests);
    }

    [Fact]
    public async Task A_receipt_from_a_batch_of_several_verifies_too()
    {
        var site = await factory.CreateSiteAsync();
        var created = await factory.RunAsync(6, _ => factory.RecordAsync(site.Id, new { policyVersion = 1, method = "accept_all" }));
        var shared = created.GroupBy(c => c["receipt"]!["batchHead"]!.GetValue<string>()).FirstOrDefault(g => g.Count() >= 2);
        Assert.NotNull(shared); // writes queued behind a held write lock share a commit
        await using var product = await StartProductAsync(site.Id);

        foreach (var one in shared)
        {
            Assert.Equal(HttpStatusCode.OK, (await AskAsync(product, one["receipt"]!.ToJsonString())).StatusCode);
        }
    }

    [Fact]
    public async Task A_refused_purpose_is_403_naming_it()
    {
        var site = await factory.CreateSiteAsync();
        var refused = await ReceiptAsync(site.Id, "reject_all");
        await using var product = await StartProductAsync(site.Id);

        var problem = await RefusedAsync(await AskAsync(product, refused));

        Assert.Contains("not granted analytics", problem["detail"]!.GetValue<string>());
        Assert.Equal(["analytics"], problem["purposes"]!.AsArray().Select(p => p!.GetValue<string>()));
        // A withdrawal's receipt is a refusal too.
        var granted = await factory.RecordAsync(site.Id, new { policyVersion = 1, method = "accept_all" });
        Assert.Equal(HttpStatusCode.OK, (await AskAsync(product, granted["receipt"]!.ToJsonString())).StatusCode);
    }

    [Fact]
    public async Task Edited_forged_other_site_and_other_key_receipts_are_refused()
    {
        var site = await factory.CreateSiteAsync();
        var other = await factory.CreateSiteAsync();
        var refusedReceipt = JsonNode.Parse(await ReceiptAsync(site.Id, "reject_all"))!.AsObject();
        var otherSiteReceipt = await ReceiptAsync(other.Id, "accept_all");
        await using var product = await StartProductAsync(site.Id);
        using var forger = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        string Edit(Action<JsonObject> edit)
        {
            var copy = refusedReceipt.DeepClone().AsObject();
            edit(copy);
            return copy.ToJsonString();
        }
        var cases = new (string What, string Receipt, string Why)[]
        {
            ("purpose flipped", Edit(r => r["record"]!["purposes"]!["analytics"] = true), "does not hash"),
            ("purpose flipped, hash recomputed", Edit(r =>
            {
                r["record"]!["purposes"]!["analytics"] = true;
                r["hash"] = ConsentService.Infrastructure.CanonicalJson.Sha256Hex(r["record"]);
            }), "audit path"),
            ("head re-signed by another key under the service's kid", Edit(r =>
            {
                var record = r["record"]!.AsObject();
                record["purposes"]!["analytics"] = true;
                var hash = ConsentService.Infrastructure.CanonicalJson.Sha256Hex(record);
                r["hash"] = hash;
                var parts = r["batchHead"]!.GetValue<string>().Split('.');
                var head = JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]))!.AsObject();
                (head["treeSize"], head["firstPosition"], head["rootHash"]) = (1, record["position"]!.GetValue<long>(),
                    Convert.ToHexStringLower(ConsentService.Ledger.MerkleTree.LeafHash(Convert.FromHexString(hash))));
                (r["leafIndex"], r["auditPath"]) = (0, new JsonArray());
                parts[1] = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(head.ToJsonString()));
                parts[2] = System.Buffers.Text.Base64Url.EncodeToString(forger.SignData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"),
                    HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
                r["batchHead"] = string.Join('.', parts);
            }), "does not verify"),
            ("another site's genuine receipt", otherSiteReceipt, $"of site {other.Id}"),
            ("not a receipt", "{\"hello\":1}", "not readable"),
        };
        foreach (var (what, receipt, why) in cases)
        {
            var problem = await RefusedAsync(await AskAsync(product, receipt));
            Assert.True(problem["detail"]!.GetValue<string>().Contains(why, StringComparison.Ordinal), $"{what}: {problem["detail"]}");
        }
        Assert.Contains("No consent receipt", (await RefusedAsync(await AskAsync(product, null)))["detail"]!.GetValue<string>());
        Assert.Equal(["GET /.well-known/consent-signing-key"], product.Calls.Requests);
    }

    [Fact]
    public async Task A_receipt_of_another_deployment_is_refused_and_unknown_kids_refetch_the_key_set_at_most_once_a_minute()
    {
        var site = await factory.CreateSiteAsync();
        await using var elsewhere = new ConsentApiFactory();
        var foreignSite = await elsewhere.CreateSiteAsync();
        var foreign = (await elsewhere.RecordAsync(foreignSite.Id, new { policyVersion = 1, method = "accept_all" }))["receipt"]!.DeepClone().AsObject();
        // Made to look like a receipt of our site: the signature cannot follow.
        foreign["record"]!["siteId"] = site.Id;
        await using var product = await StartProductAsync(site.Id);
        var genuine = await ReceiptAsync(site.Id, "accept_all");
        Assert.Equal(HttpStatusCode.OK, (await AskAsync(product, genuine)).StatusCode);

        for (var i = 0; i < 5; i++)
        {
            var problem = await RefusedAsync(await AskAsync(product, foreign.ToJsonString()));
            Assert.Contains("publishes no key", problem["detail"]!.GetValue<string>());
        }
        Assert.Single(product.Calls.Requests); // the first fetch, made a moment ago: no refetch within the minute

        product.Time.Advance(TimeSpan.FromMinutes(2));
        await RefusedAsync(await AskAsync(product, foreign.ToJsonString()));
        await RefusedAsync(await AskAsync(product, foreign.ToJsonString()));
        Assert.Equal(2, product.Calls.Requests.Count); // one refetch for the unknown kid, then none again
    }

    [Fact]
    public async Task A_decision_older_than_the_maximum_age_or_before_the_minimum_policy_version_is_refused()
    {
        var site = await factory.CreateSiteAsync();
        var receipt = await ReceiptAsync(site.Id, "accept_all");
        await using var product = await StartProductAsync(site.Id);
        Assert.Equal(HttpStatusCode.OK, (await AskAsync(product, receipt)).StatusCode);

        var options = product.App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ConsentServiceOptions>>().Value;
        options.MinimumPolicyVersion = 2;
        Assert.Contains("policy version 1", (await RefusedAsync(await AskAsync(product, receipt)))["detail"]!.GetValue<string>());
        options.MinimumPolicyVersion = null;

        product.Time.Advance(TimeSpan.FromDays(394));
        Assert.Equal(HttpStatusCode.OK, (await AskAsync(product, receipt)).StatusCode);
        product.Time.Advance(TimeSpan.FromDays(2));
        Assert.Contains("more than 395 days ago", (await RefusedAsync(await AskAsync(product, receipt)))["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_typed_client_records_checks_and_reads_history_and_its_receipt_verifies_offline()
    {
        var site = await factory.CreateSiteAsync();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(factory.Time);
        services.AddConsentServiceClient(o => (o.BaseAddress, o.SiteId, o.ApiKey) = (new Uri("http://consent.test/"), site.Id, site.AdminKey))
            .ConfigurePrimaryHttpMessageHandler(() => factory.Server.CreateHandler());
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<ConsentServiceClient>();

        var recorded = await client.RecordAsync(site.Id, new RecordConsentRequest("user:1042", 1, "api", new Dictionary<string, bool> { ["analytics"] = true }));
        var check = await client.CheckAsync(site.Id, "user:1042", "analytics");
        var state = await client.CheckAsync(site.Id, "user:1042");
        var history = await client.GetHistoryAsync(site.Id, "user:1042");

        Assert.Equal(("user:1042", "api"), (recorded.SubjectId, recorded.Method));
        Assert.Equal(new PurposeCheck("analytics", true, false), check);
        Assert.True(state.Purposes["analytics"].Granted);
        Assert.Equal(recorded.Id, Assert.Single(history!.Records).Id);
        Assert.Null(await client.GetHistoryAsync(site.Id, "user:nobody"));
        var verified = await provider.GetRequiredService<ReceiptVerifier>().VerifyAsync(recorded.ParsedReceipt!);
        Assert.True(verified.IsValid, verified.Failure);
        Assert.True(verified.Receipt!.Grants("analytics"));
        var refused = await Assert.ThrowsAsync<ConsentServiceException>(() => client.CheckAsync(site.Id, "user:1042", "no_such_purpose"));
        Assert.Equal((HttpStatusCode.BadRequest, "urn:consentservice:problem:validation"), (refused.Status, refused.ProblemType));
    }

    [Fact]
    public void The_readme_example_is_the_code_this_test_runs()
    {
        var source = File.ReadAllText(Path.Combine(OpenApiAndHealthTests.RepositoryRoot(), "tests", "ConsentService.Tests", "Client", "ReadmeExample.cs"));
        var begin = source.IndexOf("// README:begin\n", StringComparison.Ordinal) + "// README:begin\n".Length;
        var example = Dedent(source[begin..source.IndexOf("        // README:end", StringComparison.Ordinal)]);
        foreach (var readme in new[] { "README.md", Path.Combine("src", "ConsentService.Client", "README.md") })
        {
            var text = File.ReadAllText(Path.Combine(OpenApiAndHealthTests.RepositoryRoot(), readme)).ReplaceLineEndings("\n");
            Assert.True(text.Contains(example, StringComparison.Ordinal), $"{readme} does not show the example as ReadmeExample.cs has it:\n{example}");
        }

        static string Dedent(string code) => string.Join('\n', code.ReplaceLineEndings("\n").Split('\n').Select(l => l.Length >= 8 ? l[8..] : l.TrimStart()));
    }
}
