using System.Net;
using System.Text;
using ConsentService.Tests.Infrastructure;
using ConsentService.Tests.Legal;
using static ConsentService.Tests.Audit.AuditApi;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Audit;

/// <summary>
/// <c>DELETE …/audit/logs/{requestId}</c>: an admin deletes one request's events; each becomes a tombstone
/// that keeps who deleted it when, the deletion is itself audited, and the content leaves the files.
/// </summary>
public sealed class AuditDeletionTests
{
    [Fact]
    public async Task An_admin_turns_one_requests_event_into_a_tombstone_the_deletion_is_audited_and_the_content_leaves_audit_db()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateAuditedSiteAsync();
        var other = await app.CreateAuditedSiteAsync();
        var s = $"/v1/sites/{site.Id}";
        using var legal = app.Client(site.LegalKey);
        using var admin = app.Client(site.AdminKey);
        // Two events with distinctive content: one to delete, one to keep.
        Assert.Equal(HttpStatusCode.NotFound, (await legal.GetAsync($"{s}/consents/deleted-marker-4711")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await legal.GetAsync($"{s}/consents/kept-marker-4712")).StatusCode);
        var before = await app.EventsAsync(site.Id, site.AdminKey);
        var doomed = before.Single(e => e.Target().GetValueOrDefault("recordId") == "deleted-marker-4711");
        var requestId = doomed.RequestId();
        Assert.Contains(DataFolderBytes.ReadAll(app.DataDirectory), f => f.Name.StartsWith("audit.db", StringComparison.Ordinal)
            && f.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes("deleted-marker-4711")) >= 0);

        await AssertProblemAsync(await legal.DeleteAsync($"{s}/audit/logs/{requestId}"), HttpStatusCode.Forbidden, "forbidden");
        using (var stranger = app.Client(other.AdminKey))
        {
            await AssertProblemAsync(await stranger.DeleteAsync($"{s}/audit/logs/{requestId}"), HttpStatusCode.NotFound, "not-found");
            await AssertProblemAsync(await stranger.DeleteAsync($"/v1/sites/{other.Id}/audit/logs/{requestId}"), HttpStatusCode.NotFound, "not-found");
        }
        await AssertProblemAsync(await admin.DeleteAsync($"{s}/audit/logs/no-such-request"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await admin.DeleteAsync($"{s}/audit/logs/bad%20id"), HttpStatusCode.BadRequest, "validation", "requestId");
        Assert.Null((await app.EventsAsync(site.Id, site.AdminKey)).Single(e => e["id"]!.GetValue<string>() == doomed["id"]!.GetValue<string>())["deleted"]);

        app.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{s}/audit/logs/{requestId}")).StatusCode);
        var deletedAt = app.Time.GetUtcNow();
        app.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{s}/audit/logs/{requestId}")).StatusCode); // idempotent

        var events = await app.EventsAsync(site.Id, site.AdminKey);
        var tombstone = events.Single(e => e["id"]!.GetValue<string>() == doomed["id"]!.GetValue<string>());
        Assert.Equal(doomed["at"]!.GetValue<DateTimeOffset>(), tombstone["at"]!.GetValue<DateTimeOffset>());
        Assert.Equal(requestId, tombstone.RequestId());
        foreach (var field in new[] { "keyId", "role", "action", "target", "outcome", "clientIp", "method", "path" })
        {
            Assert.Null(tombstone[field]);
        }
        Assert.Equal(deletedAt, tombstone["deleted"]!["at"]!.GetValue<DateTimeOffset>()); // the first deletion is kept
        Assert.Equal(site.AdminKeyId, tombstone["deleted"]!["keyId"]!.GetValue<string>());
        Assert.Equal("admin", tombstone["deleted"]!["role"]!.GetValue<string>());
        // The deletion is a normal event, naming the request whose events it deleted.
        var deletions = events.Where(e => e["action"]?.GetValue<string>() == "DeleteAuditEvent" && e.Outcome() == 204).ToList();
        Assert.Equal(2, deletions.Count);
        Assert.All(deletions, d => Assert.Equal(requestId, d.Target()["requestId"]));
        Assert.Equal(site.AdminKeyId, deletions[0].KeyId());
        Assert.Contains(events, e => e.Target().GetValueOrDefault("recordId") == "kept-marker-4712");
        Assert.Equal(before.Count, events.Count(e => before.Any(b => b["id"]!.GetValue<string>() == e["id"]!.GetValue<string>())));

        // audit.db and its WAL no longer hold the deleted content; the kept event is still there.
        var audit = DataFolderBytes.ReadAll(app.DataDirectory).Where(f => f.Name.StartsWith("audit.db", StringComparison.Ordinal)).ToList();
        Assert.All(audit, f => Assert.True(f.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes("deleted-marker-4711")) < 0, $"The deleted event's content is in {f.Name}"));
        Assert.Contains(audit, f => f.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes("kept-marker-4712")) >= 0);
    }
}
