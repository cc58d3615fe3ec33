using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Audit.AuditApi;

namespace ConsentService.Tests.Audit;

/// <summary>
/// The retention job on the fake clock: each test has its own app, because moving its clock by months
/// would expire other tests' events.
/// </summary>
public sealed class AuditRetentionTests
{
    /// <summary>
    /// These deployments are quiet for months while the clock runs on: the clock check (see ClockJumpTests)
    /// would hold retention back, so they allow the clock a long lead.
    /// </summary>
    private static readonly Dictionary<string, string> QuietDeployment = new() { ["Retention:MaxClockLead"] = "400.00:00:00" };

    private static async Task SetAuditRetentionAsync(ConsentApiFactory factory, AuditedSite site, int days)
    {
        using var admin = factory.Client(site.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { auditRetentionDays = days })).StatusCode);
    }

    /// <summary>Reads the log until no event from before <paramref name="cutoff"/> is left (the job runs in the background).</summary>
    private static async Task<List<JsonObject>> WaitUntilNothingBeforeAsync(ConsentApiFactory factory, AuditedSite site, DateTimeOffset cutoff)
    {
        for (var attempt = 0; ; attempt++)
        {
            var events = await factory.EventsAsync(site.Id, site.AdminKey);
            if (events.All(e => e["at"]!.GetValue<DateTimeOffset>() >= cutoff) || attempt == 200)
            {
                return events;
            }
            await Task.Delay(50);
        }
    }

    private static DateTimeOffset At(JsonObject e) => e["at"]!.GetValue<DateTimeOffset>();

    [Fact]
    public async Task Events_older_than_the_sites_retention_are_deleted_and_newer_ones_and_other_sites_kept()
    {
        using var factory = new ConsentApiFactory { Settings = QuietDeployment };
        var t0 = factory.Time.GetUtcNow();
        var site = await factory.CreateAuditedSiteAsync();
        var other = await factory.CreateAuditedSiteAsync(); // keeps the default two years
        await SetAuditRetentionAsync(factory, site, 90);

        factory.Time.Advance(TimeSpan.FromDays(60));
        using (var admin = factory.Client(site.AdminKey))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/v1/sites/{site.Id}")).StatusCode);
        }
        factory.Time.Advance(TimeSpan.FromDays(31)); // past 90 days for what happened at t0; the hourly run is due

        var left = await WaitUntilNothingBeforeAsync(factory, site, t0.AddDays(1));

        Assert.DoesNotContain(left, e => At(e) < t0.AddDays(1));
        Assert.Contains(left, e => e.Action() == "GetSite" && At(e) == t0.AddDays(60));
        Assert.Equal(["IssueApiKey", "IssueApiKey", "CreateSite"],
            (await factory.EventsAsync(other.Id, other.AdminKey)).Where(e => At(e) == t0).Select(e => e.Action()));
    }

    [Fact]
    public async Task The_job_runs_at_start_and_then_at_the_configured_interval()
    {
        using var first = new ConsentApiFactory { Settings = QuietDeployment };
        var t0 = first.Time.GetUtcNow();
        var site = await first.CreateAuditedSiteAsync();
        await SetAuditRetentionAsync(first, site, 90);

        // A second instance of the deployment starts 89 days later, sweeps at once (nothing is 90 days old yet),
        // then every 7 days of its clock: at 96 days.
        using var second = new ConsentApiFactory
        {
            SharesDatabaseWith = first,
            Settings = new Dictionary<string, string>(QuietDeployment) { ["Audit:RetentionInterval"] = "7.00:00:00" },
        };
        second.Time.Advance(TimeSpan.FromDays(89));
        Assert.Contains(await second.EventsAsync(site.Id, site.AdminKey), e => At(e) == t0);

        second.Time.Advance(TimeSpan.FromDays(2)); // past retention for the events of t0, but no run is due
        await Task.Delay(300);
        Assert.Contains(await second.EventsAsync(site.Id, site.AdminKey), e => At(e) == t0);

        second.Time.Advance(TimeSpan.FromDays(5));
        var left = await WaitUntilNothingBeforeAsync(second, site, t0.AddDays(1));
        Assert.DoesNotContain(left, e => At(e) == t0);
        Assert.Contains(left, e => e.Action() == "GetAuditLogs" && At(e) == t0.AddDays(91)); // the read in between stays
    }

    [Fact]
    public async Task A_restart_long_after_the_last_run_deletes_what_expired_meanwhile_before_taking_requests()
    {
        using var first = new ConsentApiFactory { Settings = QuietDeployment };
        var t0 = first.Time.GetUtcNow();
        var site = await first.CreateAuditedSiteAsync();
        await SetAuditRetentionAsync(first, site, 90);

        using var second = new ConsentApiFactory { SharesDatabaseWith = first, Settings = QuietDeployment };
        second.Time.Advance(TimeSpan.FromDays(100));

        var events = await second.EventsAsync(site.Id, site.AdminKey); // its very first request
        Assert.Empty(events);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("30.00:00:00")]
    [InlineData("soon")]
    public void An_interval_out_of_range_stops_the_start(string interval)
    {
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["Audit:RetentionInterval"] = interval } };
        // A validation failure or, for text that is no time span, a binding failure; either way the app does not start.
        var error = Record.Exception(() => factory.CreateClient());
        Assert.NotNull(error);
        Assert.Contains("Audit", error.ToString());
        Assert.Contains("RetentionInterval", error.ToString());
    }
}
