using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>
/// Retention deletes by the clock; a clock set years ahead must not shred everything. Each test has
/// its own app: moving its clock by years would expire other tests' data.
/// </summary>
public sealed class ClockJumpTests
{
    private static async Task<JsonObject> ReadyAsync(ConsentApiFactory app)
    {
        using var client = app.CreateClient();
        var response = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // degraded still takes traffic
        return await ReadJsonAsync(response);
    }

    /// <summary>Polls /health/ready (which writes nothing) until <paramref name="done"/> holds: the jobs run in the background.</summary>
    private static async Task<JsonObject> WaitForReadyAsync(ConsentApiFactory app, Func<JsonObject, bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var ready = await ReadyAsync(app);
            if (done(ready)) return ready;
            Assert.True(DateTime.UtcNow < deadline, $"{what}: {ready.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    private static async Task<long> CountAuditEventsAsync(ConsentApiFactory app, string siteId)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(
            $"Data Source={Path.Combine(app.DataDirectory, "audit.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM audit_events WHERE site_id = $site";
        command.Parameters.AddWithValue("$site", siteId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string ClockStatus(JsonObject ready) => ready["checks"]!["clock"]!["status"]!.GetValue<string>();

    private static string ClockDescription(JsonObject ready) => ready["checks"]!["clock"]!["description"]?.GetValue<string>() ?? "";

    [Fact]
    public async Task A_clock_ten_years_ahead_shreds_no_subject_deletes_no_audit_event_and_health_says_why()
    {
        // Daily jobs: the fake clock wakes every timer once per period it skips, and ten years of five-minute checkpoints take minutes.
        using var app = new ConsentApiFactory
        {
            Settings = new Dictionary<string, string>
            {
                ["Retention:Interval"] = "1.00:00:00", ["Audit:RetentionInterval"] = "1.00:00:00", ["Ledger:CheckpointInterval"] = "1.00:00:00",
            },
        };
        var site = await app.CreateSiteAsync(new { name = "Short memory", retentionDays = 30, auditRetentionDays = 90 });
        var subject = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });
        Assert.Equal("Healthy", ClockStatus(await ReadyAsync(app)));
        var events = await CountAuditEventsAsync(app, site.Id);

        app.Time.Advance(TimeSpan.FromDays(3653)); // both jobs are due

        var ready = await WaitForReadyAsync(app, r => ClockDescription(r).Contains("Audit retention", StringComparison.Ordinal)
            && ClockDescription(r).Contains("Retention deletes nothing", StringComparison.Ordinal), "both jobs held back");
        Assert.Equal("Degraded", ready["status"]!.GetValue<string>());
        Assert.Equal("Degraded", ClockStatus(ready));
        Assert.Contains("3653 days ahead", ClockDescription(ready), StringComparison.Ordinal);

        // Read straight from the file: nothing shredded, nothing deleted.
        Assert.Equal(events, await CountAuditEventsAsync(app, site.Id));
        Assert.Equal(1, await app.CountRowsAsync("subjects", site.Id));
        using var legal = app.ClientWithKey(site.LegalKey);
        var history = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history"));
        Assert.Equal(subject, history["records"]!.AsArray().Single()!["subjectId"]!.GetValue<string>());
    }

    [Fact]
    public async Task With_the_clock_in_range_retention_still_shreds_idle_subjects_and_health_recovers()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync(new { name = "Short memory", retentionDays = 30 });
        var (idle, active) = (NewSubjectId(), NewSubjectId());
        await app.RecordAsync(site.Id, new { subjectId = idle, policyVersion = 1, method = "accept_all" });

        // A month without a record: the clock is suspect and retention waits.
        app.Time.Advance(TimeSpan.FromDays(30) + TimeSpan.FromHours(23));
        await WaitForReadyAsync(app, r => ClockStatus(r) == "Degraded", "retention held back after a month without records");
        Assert.Equal(1, await app.CountRowsAsync("subjects", site.Id));

        // A new record puts the clock in range again; the next hourly run shreds the subject idle for 31 days.
        await app.RecordAsync(site.Id, new { subjectId = active, policyVersion = 1, method = "reject_all" });
        app.Time.Advance(TimeSpan.FromHours(2));
        await WaitForReadyAsync(app, r => ClockStatus(r) == "Healthy", "retention resumed");
        using var legal = app.ClientWithKey(site.LegalKey);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{idle}/history")).StatusCode != HttpStatusCode.NotFound)
        {
            Assert.True(DateTime.UtcNow < deadline, "The retention job did not shred the idle subject");
            await Task.Delay(50);
        }
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{active}/history")).StatusCode);
    }

    [Theory]
    [InlineData("00:10:00")]
    [InlineData("never")]
    public void A_max_clock_lead_under_an_hour_stops_the_start(string lead)
    {
        using var app = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["Retention:MaxClockLead"] = lead } };
        var error = Record.Exception(() => app.CreateClient());
        Assert.NotNull(error);
        Assert.Contains("MaxClockLead", error.ToString(), StringComparison.Ordinal);
    }
}
