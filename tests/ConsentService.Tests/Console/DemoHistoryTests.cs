using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Xunit.Abstractions;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.PrivacyConsole;

/// <summary>The demo site's made-up history: enough for every console screen, and a ledger that still verifies.</summary>
public sealed class DemoHistoryTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string> Seeded = new() { ["Demo:Seed"] = "true", ["Demo:SeedHistory"] = "true" };

    [Fact]
    public async Task The_demo_site_gets_sixty_days_of_history_through_the_ledger_and_it_verifies()
    {
        var data = ConsentApiFactory.NewDataDirectory();
        long records;
        using (var app = new ConsentApiFactory { DataDirectory = data, KeepDataDirectory = true, Settings = Seeded })
        {
            var watch = Stopwatch.StartNew();
            using var op = app.OperatorClient();
            Assert.Equal(HttpStatusCode.OK, (await op.GetAsync("/health/ready")).StatusCode);
            output.WriteLine($"start-up with seeding: {watch.ElapsedMilliseconds} ms");
            var now = app.Time.GetUtcNow();

            var policies = await ReadArrayAsync(await op.GetAsync("/v1/sites/demo/policies"));
            Assert.Equal([true, false, true], policies.Select(p => p!["material"]!.GetValue<bool>()));
            Assert.Equal(now.AddDays(-60), policies[0]!["publishedAt"]!.GetValue<DateTimeOffset>());

            var all = new List<JsonNode>();
            string? cursor = null;
            do
            {
                var page = await ReadJsonAsync(await op.GetAsync($"/v1/sites/demo/consents?limit=500{(cursor is null ? "" : "&cursor=" + cursor)}"));
                all.AddRange(page["items"]!.AsArray()!);
                cursor = page["nextCursor"]?.GetValue<string>();
            }
            while (cursor is not null);
            records = all.Count;
            output.WriteLine($"{records} records");
            Assert.InRange(records, 350, 700);
            var times = all.Select(r => r!["recordedAt"]!.GetValue<DateTimeOffset>()).ToList();
            Assert.Equal(times.Order(), times); // ledger order is time order
            Assert.True(times[0] >= now.AddDays(-60) && times[^1] < now);
            var methods = all.GroupBy(r => r!["method"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.Count());
            Assert.True(methods["gpc"] > 10 && methods["withdraw"] > 10 && methods["custom"] > 10, string.Join(", ", methods));
            Assert.Equal(3, all.Max(r => r!["policyVersion"]!.GetValue<int>()));
            Assert.True(all.Count(r => r!["subjectId"] is null) >= 2, "two erased subjects");

            var verify = await ReadJsonAsync(await op.GetAsync("/v1/sites/demo/ledger/verify"));
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());

            var reconsent = await ReadJsonAsync(await op.GetAsync("/v1/sites/demo/stats/reconsent"));
            var v3 = Assert.Single(reconsent["versions"]!.AsArray())!;
            Assert.True(v3["due"]!.GetValue<long>() > 100 && v3["reconsented"]!.GetValue<long>() > 30, v3.ToJsonString());
            var weeks = await ReadJsonAsync(await op.GetAsync($"/v1/sites/demo/stats?groupBy=week&from={Uri.EscapeDataString(now.AddDays(-61).ToString("O"))}"));
            Assert.InRange(weeks["groups"]!.AsArray().Count, 9, 10);

            // The first checkpoint is sealed once the service has started.
            JsonArray checkpoints = [];
            for (var i = 0; i < 100 && checkpoints.Count == 0; i++)
            {
                checkpoints = await ReadArrayAsync(await op.GetAsync("/v1/sites/demo/ledger/checkpoints"));
                if (checkpoints.Count == 0) await Task.Delay(100);
            }
            Assert.Equal(records, Assert.Single(checkpoints)!["treeSize"]!.GetValue<long>());
        }
        using (var restarted = new ConsentApiFactory { DataDirectory = data, Settings = Seeded })
        {
            using var op = restarted.OperatorClient();
            var page = await ReadJsonAsync(await op.GetAsync("/v1/sites/demo/consents?limit=1000"));
            Assert.Equal(records, page["items"]!.AsArray().Count); // seeded once, not again on restart
        }
    }
}
