using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Consents;
using ConsentService.Tests.Durability;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Webhooks;

/// <summary>
/// At least once across a crash: the service is SIGKILLed while deliveries are in flight, restarted on the same
/// data folder, and every acknowledged decision reaches the receiver; a message sent twice keeps its webhook-id.
/// </summary>
public sealed class WebhookDurabilityTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("consent-webhooks-").FullName;

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Webhooks__RequireHttps"] = "false",
        ["Webhooks__AllowPrivateNetworks"] = "true",
        ["Webhooks__PollInterval"] = "00:00:00.020",
        ["Webhooks__QuickRetries"] = "0",
        ["Webhooks__FirstRetryDelay"] = "00:00:01",
        ["Webhooks__MaxRetryDelay"] = "00:00:02",
        ["Webhooks__LeaseDuration"] = "00:00:05",
    };

    [Fact]
    public async Task Every_acknowledged_decision_is_delivered_after_a_SIGKILL_mid_delivery_and_duplicates_keep_their_webhook_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var acknowledged = new List<(string RecordId, string Subject, long Position)>();
        List<string> inFlight;
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var service = await ServiceProcess.StartAsync(_data, Settings))
        {
            using var client = new HttpClient { BaseAddress = service.Address };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceProcess.OperatorKey);
            var site = await ReadJsonAsync(await client.PostAsJsonAsync("/v1/sites", new { name = "Webhook shop", allowedOrigins = new[] { "https://shop.example" } }),
                HttpStatusCode.Created);
            var siteId = site["id"]!.GetValue<string>();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", site["adminKey"]!["key"]!.GetValue<string>());
            await ReadJsonAsync(await client.PostAsJsonAsync($"/v1/sites/{siteId}/webhooks", new { url = receiver.Url, events = new[] { "consent.recorded" } }),
                HttpStatusCode.Created);

            string[] subjects = [.. Enumerable.Range(0, 5).Select(_ => SubjectIds.New())];
            var before = 0;
            for (var i = 0; i < 20; i++)
            {
                if (i == 10)
                {
                    // From now on the receiver holds what it gets: those deliveries are in flight when the process dies.
                    before = receiver.Requests.Count;
                    receiver.Hold = hold;
                }
                var subject = subjects[i % subjects.Length];
                var body = new { subjectId = subject, policyVersion = 1, method = i % 2 == 0 ? "accept_all" : "reject_all", subjectSecret = SecretOf(subject) };
                using var response = await client.PostAsync($"/v1/sites/{siteId}/consents", new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "text/plain"));
                var record = await ReadJsonAsync(response, HttpStatusCode.Created);
                acknowledged.Add((record["id"]!.GetValue<string>(), subject, record["position"]!.GetValue<long>()));
            }
            await receiver.WaitForAsync(r => r.Requests.Count > before + 1, "deliveries in flight", seconds: 20);
            await service.KillAsync();
            receiver.Hold = null;
            inFlight = [.. receiver.Requests.Skip(before).Select(m => m.Id).Except(receiver.Accepted.Select(m => m.Id))];
        }
        Assert.True(receiver.Accepted.Count < acknowledged.Count, "everything was delivered before the kill: nothing to prove");
        Assert.NotEmpty(inFlight);

        await using (var restarted = await ServiceProcess.StartAsync(_data, Settings))
        {
            await receiver.WaitForAsync(r => acknowledged.All(a => r.Accepted.Any(m => m.Data["recordId"]!.GetValue<string>() == a.RecordId)),
                "every acknowledged decision", seconds: 20);
            // What was in flight at the kill is sent again (at least once), with the same webhook-id.
            await receiver.WaitForAsync(r => inFlight.All(id => r.Accepted.Any(m => m.Id == id)), "the in-flight messages again", seconds: 20);
        }
        hold.SetResult(); // the held requests of the dead process are answered 503 and not counted
        foreach (var copies in receiver.Requests.GroupBy(m => m.Data["recordId"]!.GetValue<string>()))
        {
            Assert.Single(copies.Select(m => m.Id).Distinct()); // a message sent again is the same message
        }
        // Per subject, first deliveries follow ledger positions.
        foreach (var subject in acknowledged.GroupBy(a => a.Subject))
        {
            var delivered = receiver.Accepted.Where(m => m.Data["subjectId"]!.GetValue<string>() == subject.Key)
                .Select(m => m.Data["position"]!.GetValue<long>()).Distinct().ToList();
            Assert.Equal(subject.Select(a => a.Position).Order(), delivered);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
