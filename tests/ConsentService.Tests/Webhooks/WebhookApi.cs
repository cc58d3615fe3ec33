using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Webhooks;

public sealed record RegisteredEndpoint(string Id, string Secret);

/// <summary>The webhook admin API as a test calls it, and an app configured to deliver to receivers on 127.0.0.1.</summary>
public static class WebhookApi
{
    public static ConsentApiFactory App(bool allowPrivate = true, IReadOnlyDictionary<string, string>? more = null, string? dataDirectory = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Webhooks:RequireHttps"] = "false",
            ["Webhooks:AllowPrivateNetworks"] = allowPrivate ? "true" : "false",
            ["Webhooks:PollInterval"] = "00:00:00.020",
            ["Webhooks:QuickRetries"] = "0",
            ["Webhooks:QuickRetryDelay"] = "00:00:00.010",
            ["Webhooks:AttemptTimeout"] = "00:00:05",
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string>()) settings[key] = value;
        return dataDirectory is null ? new ConsentApiFactory { Settings = settings } : new ConsentApiFactory { Settings = settings, DataDirectory = dataDirectory };
    }

    public static async Task<RegisteredEndpoint> RegisterAsync(this ConsentApiFactory app, TestSite site, string url, string[]? events = null)
    {
        using var admin = app.ClientWithKey(site.AdminKey);
        var created = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/webhooks", new { url, events, description = "test receiver" }),
            HttpStatusCode.Created);
        return new RegisteredEndpoint(created["endpoint"]!["id"]!.GetValue<string>(), created["secret"]!.GetValue<string>());
    }

    public static async Task<JsonObject> EndpointAsync(this ConsentApiFactory app, TestSite site, string endpointId)
    {
        using var admin = app.ClientWithKey(site.AdminKey);
        return await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}/webhooks/{endpointId}"));
    }

    /// <summary>Polls the endpoint (bounded) until <paramref name="condition"/> holds on it.</summary>
    public static async Task<JsonObject> WaitForEndpointAsync(this ConsentApiFactory app, TestSite site, string endpointId, Func<JsonObject, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var endpoint = await app.EndpointAsync(site, endpointId);
            if (condition(endpoint)) return endpoint;
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}: {endpoint.ToJsonString()}");
            await Task.Delay(20);
        }
    }

    public static IEnumerable<JsonObject> Deliveries(JsonObject endpoint) => endpoint["recentDeliveries"]!.AsArray().Select(d => d!.AsObject());

    public static async Task<JsonObject> RecordForAsync(this ConsentApiFactory app, TestSite site, string subject, string method = "accept_all") =>
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method });

    /// <summary>The Standard Webhooks signature computed by hand (HMAC-SHA256 over "id.timestamp.body"), not by the library.</summary>
    public static string IndependentSignature(string secret, string id, string timestamp, string body)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));
    }
}
