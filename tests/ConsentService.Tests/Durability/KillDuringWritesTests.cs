using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Consents;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Durability;

/// <summary>
/// No acknowledged record may be lost (WAL, synchronous=FULL, commit before the 201): the service
/// is SIGKILLed in the middle of concurrent writes, restarted on the same data folder, and every
/// record that got a 201 must be there, in gap-free chains and ledger positions that verify.
/// </summary>
public sealed class KillDuringWritesTests : IDisposable
{
    private const int Writers = 16;
    private readonly string _data = Directory.CreateTempSubdirectory("consent-durability-").FullName;

    private sealed record Acknowledged(string Id, string Subject, long Sequence, long Position);

    [Fact]
    public async Task Every_record_that_got_a_201_survives_a_SIGKILL_mid_load_and_the_restarted_ledger_verifies()
    {
        string siteId, legalKey;
        var acknowledged = new ConcurrentBag<Acknowledged>();
        var failedWrites = 0;
        await using (var service = await ServiceProcess.StartAsync(_data))
        {
            (siteId, legalKey) = await CreateSiteAsync(service.Address);

            // Each writer has subjects of its own and shares four with every other writer, so chains
            // grow from several writers at once.
            var shared = Enumerable.Range(0, 4).Select(_ => SubjectIds.New()).ToArray();
            using var client = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromSeconds(30) };
            using var stop = new CancellationTokenSource();
            var firstAck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                string[] subjects = [.. shared, SubjectIds.New(), SubjectIds.New(), SubjectIds.New()];
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var subject = subjects[(w + i) % subjects.Length];
                    var body = new { subjectId = subject, policyVersion = 1, method = i % 2 == 0 ? "accept_all" : "reject_all", subjectSecret = SecretOf(subject) };
                    try
                    {
                        using var response = await client.PostAsync($"/v1/sites/{siteId}/consents",
                            new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "text/plain"), stop.Token);
                        if (response.StatusCode != HttpStatusCode.Created)
                        {
                            Interlocked.Increment(ref failedWrites); // e.g. a half-written answer as the process died
                            continue;
                        }
                        var record = JsonNode.Parse(await response.Content.ReadAsStringAsync(stop.Token))!;
                        acknowledged.Add(new Acknowledged(record["id"]!.GetValue<string>(), record["subjectId"]!.GetValue<string>(),
                            record["sequence"]!.GetValue<long>(), record["position"]!.GetValue<long>()));
                        firstAck.TrySetResult();
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or JsonException)
                    {
                        // The process is gone (or going): this write was never acknowledged.
                        Interlocked.Increment(ref failedWrites);
                        if (!stop.IsCancellationRequested) await Task.Delay(20, CancellationToken.None);
                    }
                }
            })).ToArray();

            await firstAck.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // under load, then the kill lands mid-write
            await service.KillAsync();
            await Task.Delay(200);
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }
        Assert.True(acknowledged.Count >= Writers, $"Only {acknowledged.Count} writes were acknowledged before the kill ({failedWrites} failed): no load to speak of.");

        // The data folder a crash left behind: the service starts on it by itself and is ready.
        await using var restarted = await ServiceProcess.StartAsync(_data);
        using var legal = new HttpClient { BaseAddress = restarted.Address, Timeout = TimeSpan.FromSeconds(60) };
        legal.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", legalKey);
        var health = await ReadJsonAsync(await legal.GetAsync("/health/ready"));
        Assert.Equal("Healthy", health["status"]!.GetValue<string>());

        // The whole ledger, in position order: positions 1..n without a gap.
        var ledger = await ReadLedgerAsync(legal, siteId);
        Assert.Equal(Enumerable.Range(1, ledger.Count).Select(p => (long)p), ledger.Select(r => r["position"]!.GetValue<long>()));

        // Every acknowledged record is there, as it was acknowledged.
        var stored = ledger.ToDictionary(r => r["id"]!.GetValue<string>());
        var lost = acknowledged.Where(a => !stored.ContainsKey(a.Id)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged records are missing after the restart ({failedWrites} writes were not acknowledged), e.g. {lost.FirstOrDefault()}");
        foreach (var ack in acknowledged)
        {
            var record = stored[ack.Id];
            Assert.Equal((ack.Subject, ack.Sequence, ack.Position),
                (record["subjectId"]!.GetValue<string>(), record["sequence"]!.GetValue<long>(), record["position"]!.GetValue<long>()));
        }
        using (var one = await legal.GetAsync($"/v1/sites/{siteId}/consents/{acknowledged.First().Id}"))
        {
            Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        }

        // Each subject's chain: sequences 1..n without a gap, in its history too.
        foreach (var chain in ledger.GroupBy(r => r["subjectId"]!.GetValue<string>()))
        {
            var sequences = chain.Select(r => r["sequence"]!.GetValue<long>()).Order().ToList();
            Assert.Equal(Enumerable.Range(1, sequences.Count).Select(s => (long)s), sequences);
        }
        foreach (var subject in acknowledged.Select(a => a.Subject).Distinct())
        {
            var history = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{siteId}/subjects/{subject}/history"));
            var sequences = history["records"]!.AsArray().Select(r => r!["sequence"]!.GetValue<long>()).ToList();
            Assert.Equal(Enumerable.Range(1, sequences.Count).Select(s => (long)s), sequences);
        }

        var report = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{siteId}/ledger/verify"));
        Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Equal(ledger.Count, report["records"]!.GetValue<long>());

        // And it keeps working: the next write continues the chain and the ledger.
        var next = ledger[^1];
        using var visitor = new HttpClient { BaseAddress = restarted.Address };
        var after = await ReadJsonAsync(await visitor.PostAsync($"/v1/sites/{siteId}/consents",
            new StringContent(JsonSerializer.Serialize(new { subjectId = next["subjectId"]!.GetValue<string>(), policyVersion = 1, method = "withdraw", subjectSecret = SecretOf(next["subjectId"]!.GetValue<string>()) }),
                Encoding.UTF8, "text/plain")), HttpStatusCode.Created);
        Assert.Equal(ledger.Count + 1, after["position"]!.GetValue<long>());
    }

    private static async Task<(string SiteId, string LegalKey)> CreateSiteAsync(Uri address)
    {
        using var op = new HttpClient { BaseAddress = address };
        op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceProcess.OperatorKey);
        var site = await ReadJsonAsync(await op.PostAsJsonAsync("/v1/sites", new { name = "Durability shop", allowedOrigins = new[] { "https://shop.example" } }),
            HttpStatusCode.Created);
        var id = site["id"]!.GetValue<string>();
        op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", site["adminKey"]!["key"]!.GetValue<string>());
        var legal = await ReadJsonAsync(await op.PostAsJsonAsync($"/v1/sites/{id}/keys", new { role = "legal" }), HttpStatusCode.Created);
        return (id, legal["key"]!.GetValue<string>());
    }

    private static async Task<List<JsonNode>> ReadLedgerAsync(HttpClient legal, string siteId)
    {
        var records = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var page = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{siteId}/consents?limit=1000" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}")));
            records.AddRange(page["items"]!.AsArray().Select(r => r!));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return records;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp folder
        }
    }
}
