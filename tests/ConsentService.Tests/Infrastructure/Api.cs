using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConsentService.Tests.Infrastructure;

/// <summary>A site made for one test, with a key of each role.</summary>
public sealed record TestSite(string Id, string AdminKey, string LegalKey, string CheckKey);

/// <summary>Calls the API the way a client would; every test gets a fresh site so tests never share state.</summary>
public static class Api
{
    public static async Task<TestSite> CreateSiteAsync(this ConsentApiFactory factory, object? body = null)
    {
        using var op = factory.OperatorClient();
        var created = await ReadJsonAsync(await op.PostAsJsonAsync("/v1/sites", body ?? new { name = "Test shop", allowedOrigins = new[] { "https://shop.example" } }), HttpStatusCode.Created);
        var id = created["id"]!.GetValue<string>();
        var admin = created["adminKey"]!["key"]!.GetValue<string>();
        return new TestSite(id, admin, await factory.IssueKeyAsync(id, admin, "legal"), await factory.IssueKeyAsync(id, admin, "check"));
    }

    public static async Task<string> IssueKeyAsync(this ConsentApiFactory factory, string siteId, string adminKey, string role)
    {
        using var client = factory.ClientWithKey(adminKey);
        var issued = await ReadJsonAsync(await client.PostAsJsonAsync($"/v1/sites/{siteId}/keys", new { role }), HttpStatusCode.Created);
        return issued["key"]!.GetValue<string>();
    }

    /// <summary>
    /// Posts a decision. An anonymous post (the client has no key) that names a subjectId and no
    /// subjectSecret gets <see cref="SecretOf"/> that subject, as the snippet sends the secret it keeps
    /// beside the id; <paramref name="withSecret"/> false posts the body exactly as given.
    /// </summary>
    public static Task<HttpResponseMessage> PostConsentAsync(this HttpClient client, string siteId, object body, string contentType = "text/plain",
        string? idempotencyKey = null, bool withSecret = true)
    {
        var json = JsonSerializer.SerializeToNode(body);
        if (withSecret && client.DefaultRequestHeaders.Authorization is null && json is JsonObject fields
            && fields["subjectId"] is JsonValue id && id.TryGetValue<string>(out var subjectId) && !fields.ContainsKey("subjectSecret"))
        {
            fields["subjectSecret"] = SecretOf(subjectId);
        }
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sites/{siteId}/consents")
        {
            Content = new StringContent(json?.ToJsonString() ?? "null", Encoding.UTF8, contentType),
        };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }

    /// <summary>Records a decision as the snippet would and returns the created record.</summary>
    public static async Task<JsonObject> RecordAsync(this ConsentApiFactory factory, string siteId, object body)
    {
        using var client = factory.CreateClient();
        return await ReadJsonAsync(await client.PostConsentAsync(siteId, body), HttpStatusCode.Created);
    }

    public static async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<JsonArray> ReadArrayAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsArray();
    }

    /// <summary>
    /// Asserts an RFC 9457 problem: status, media type, our type URI and, when given, the field at fault.
    /// </summary>
    public static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal($"urn:consentservice:problem:{type}", problem["type"]?.GetValue<string>());
        Assert.Equal((int)status, problem["status"]?.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(problem["title"]?.GetValue<string>()));
        if (field is not null)
        {
            var errors = problem["errors"]?.AsObject();
            Assert.True(errors is not null && errors.ContainsKey(field), $"Expected an error for '{field}': {text}");
        }
        return problem;
    }

    /// <summary>The write secret the tests keep for a subject: derived from its id (32 base64url characters), the same for every post.</summary>
    public static string SecretOf(string subjectId) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes("test-secret:" + subjectId))).TrimEnd('=').Replace('+', '-').Replace('/', '_')[..32];

    public static string NewSubjectId() => "sub_" + Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
