using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ConsentRecipes;
using ConsentService.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using static ConsentService.Tests.Infrastructure.Api;
using static ConsentService.Tests.Webhooks.WebhookApi;

namespace ConsentService.Tests.Webhooks;

/// <summary>The README's receiver recipes (docs/webhooks/), run against real signed deliveries of the service.</summary>
public sealed class RecipeTests
{
    private static string Docs => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../docs/webhooks"));

    [Fact]
    public async Task The_CSharp_receiver_recipe_verifies_a_real_delivery_and_refuses_a_forged_one()
    {
        using var app = App();
        app.Time.SetUtcNow(DateTimeOffset.UtcNow); // the library checks the timestamp against the real clock
        var site = await app.CreateSiteAsync();
        var port = FreePort();
        var endpoint = await app.RegisterAsync(site, $"http://127.0.0.1:{port}/consent");

        var received = new ConcurrentQueue<ConsentWebhook>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        await using var receiver = builder.Build();
        receiver.MapConsentWebhook("/consent", endpoint.Secret, (webhook, _) =>
        {
            received.Enqueue(webhook);
            return Task.CompletedTask;
        });
        await receiver.StartAsync();

        var subject = NewSubjectId();
        await app.RecordForAsync(site, subject, "reject_all");
        await WaitAsync(() => !received.IsEmpty, "the recipe's handler");
        var webhook = Assert.Single(received);
        Assert.Equal((WebhookEvents.ConsentRecorded, subject), (webhook.Type, webhook.SubjectId));
        Assert.False(webhook.Grants("analytics"));
        Assert.True(webhook.Grants("necessary"));
        Assert.StartsWith("msg_", webhook.Id);

        using var forger = new HttpClient();
        var forged = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/consent")
        {
            Content = new StringContent("""{"type":"consent.recorded","timestamp":"2026-12-01T00:00:00Z","data":{}}""", Encoding.UTF8, "application/json"),
        };
        forged.Headers.Add("webhook-id", "msg_forged");
        forged.Headers.Add("webhook-timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        forged.Headers.Add("webhook-signature", "v1," + Convert.ToBase64String(new byte[32]));
        Assert.Equal(HttpStatusCode.Unauthorized, (await forger.SendAsync(forged)).StatusCode);
        Assert.Single(received);
    }

    [Fact]
    public async Task The_Node_receiver_recipe_verifies_a_real_delivery_tells_PostHog_and_refuses_a_forged_one()
    {
        await using var posthog = await WebhookReceiver.StartAsync();
        using var app = App();
        app.Time.SetUtcNow(DateTimeOffset.UtcNow); // the recipe checks the timestamp against the real clock
        var site = await app.CreateSiteAsync();
        var port = FreePort();
        var endpoint = await app.RegisterAsync(site, $"http://127.0.0.1:{port}/", [WebhookEvents.ConsentRecorded]);

        var lines = new ConcurrentQueue<string>();
        var start = new ProcessStartInfo("node", Path.Combine(Docs, "receiver.mjs")) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["WEBHOOK_SECRET"] = endpoint.Secret;
        start.Environment["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["POSTHOG_HOST"] = $"http://127.0.0.1:{posthog.Port}";
        using var node = Process.Start(start)!;
        node.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        node.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue("stderr: " + e.Data); };
        node.BeginOutputReadLine();
        node.BeginErrorReadLine();
        try
        {
            await WaitAsync(() => lines.Any(l => l.StartsWith("listening", StringComparison.Ordinal)), "node to listen", lines);
            using var forger = new HttpClient();
            var forged = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/")
            {
                Content = new StringContent("""{"type":"consent.recorded","data":{}}""", Encoding.UTF8, "application/json"),
            };
            forged.Headers.Add("webhook-id", "msg_forged");
            forged.Headers.Add("webhook-timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
            forged.Headers.Add("webhook-signature", "v1," + Convert.ToBase64String(new byte[32]));
            Assert.Equal(HttpStatusCode.Unauthorized, (await forger.SendAsync(forged)).StatusCode);

            var subject = NewSubjectId();
            await app.RecordForAsync(site, subject, "reject_all");
            await WaitAsync(() => lines.Any(l => l.StartsWith('{')), "the recipe's output", lines);
            var line = JsonNode.Parse(lines.Single(l => l.StartsWith('{')))!;
            Assert.Equal("consent.recorded", line["type"]!.GetValue<string>());
            Assert.StartsWith("msg_", line["id"]!.GetValue<string>());
            Assert.False(line["segment"]!["consent"]!["categoryPreferences"]!["analytics"]!.GetValue<bool>());
            Assert.Contains("necessary", line["segment"]!["consentManagement"]!["allowedConsentIds"]!.AsArray().Select(n => n!.GetValue<string>()));

            await posthog.WaitForAsync(r => !r.Accepted.IsEmpty, "the PostHog call");
            var call = posthog.Accepted.Single().Json;
            Assert.Equal(subject, call["distinct_id"]!.GetValue<string>());
            Assert.False(call["properties"]!["$set"]!["consent_analytics"]!.GetValue<bool>());
            var shown = await app.WaitForEndpointAsync(site, endpoint.Id, e => Deliveries(e).Any(d => d["status"]!.GetValue<string>() == "delivered"), "delivered");
            Assert.Equal(204, Deliveries(shown).Single()["lastStatusCode"]!.GetValue<int>());
        }
        finally
        {
            node.Kill();
            await node.WaitForExitAsync();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitAsync(Func<bool> condition, string what, IEnumerable<string>? log = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}: {string.Join('\n', log ?? [])}");
            await Task.Delay(20);
        }
    }
}
