using System.Net;
using ConsentService.Tests.Infrastructure;
using ConsentService.Webhooks;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;
using static ConsentService.Tests.Webhooks.WebhookApi;

namespace ConsentService.Tests.Webhooks;

/// <summary>
/// An erasure reaches the outbox: the subject's queued (and delivered) messages go in the erasure's transaction,
/// <c>subject.erased</c> tells the tools, and once it is delivered no file of the data folder holds the id.
/// </summary>
public sealed class WebhookErasureTests
{
    [Fact]
    public async Task Erasure_drops_the_subjects_queued_messages_tells_the_tools_and_then_leaves_no_trace_in_the_data_folder()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App();
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, receiver.Url);
        receiver.Answer = _ => 500; // everything stays queued
        var (subject, bystander) = (NewSubjectId(), NewSubjectId());
        var first = await app.RecordForAsync(site, subject, "accept_all");
        await app.RecordForAsync(site, subject, "reject_all");
        await app.RecordForAsync(site, bystander, "accept_all");
        await receiver.WaitForAsync(r => r.Requests.Any(m => m.Data["subjectId"]!.GetValue<string>() == subject), "a try for the subject");
        Assert.Equal(2, await CountPayloadsNamingAsync(app, subject));

        using var legal = app.ClientWithKey(site.LegalKey);
        Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{subject}")).StatusCode);
        // Only the erasure notice names the subject now; its decisions left the outbox with the erasure.
        Assert.Equal(1, await CountPayloadsNamingAsync(app, subject));
        var shown = await app.EndpointAsync(site, endpoint.Id);
        Assert.Equal([WebhookEvents.SubjectErased, WebhookEvents.ConsentRecorded], Deliveries(shown).Select(d => d["type"]!.GetValue<string>()).Order().Reverse());

        // The notice is due at once, so its first try fails too. Waiting until that try is recorded keeps it from being
        // in flight while the answer turns to 200 and the clock moves on: it would schedule its retry an hour too late.
        await app.WaitForEndpointAsync(site, endpoint.Id, e => Deliveries(e).Any(d =>
            d["type"]!.GetValue<string>() == WebhookEvents.SubjectErased && d["attempts"]!.GetValue<int>() > 0), "a first try of the erasure notice");
        var triesBefore = receiver.Requests.Count;
        receiver.Answer = _ => 200;
        app.Time.Advance(TimeSpan.FromHours(1));
        await receiver.WaitForAsync(r => r.Accepted.Any(m => m.Type == WebhookEvents.SubjectErased), "the erasure notice");
        await receiver.WaitForAsync(r => r.Accepted.Any(m => m.Type == WebhookEvents.ConsentRecorded), "the bystander's decision");
        var notice = receiver.Accepted.Single(m => m.Type == WebhookEvents.SubjectErased);
        Assert.Equal(subject, notice.Data["subjectId"]!.GetValue<string>());
        Assert.DoesNotContain(receiver.Requests.Skip(triesBefore), m => m.Type == WebhookEvents.ConsentRecorded && m.Data["subjectId"]!.GetValue<string>() == subject);

        var settled = await app.WaitForEndpointAsync(site, endpoint.Id,
            e => Deliveries(e).Any(d => d["type"]!.GetValue<string>() == WebhookEvents.SubjectErased && d["payloadDestroyed"]!.GetValue<bool>()), "the notice destroyed");
        Assert.Equal(0, await CountPayloadsNamingAsync(app, subject));
        using var admin = app.ClientWithKey(site.AdminKey);
        await AssertProblemAsync(await admin.PostAsync($"/v1/sites/{site.Id}/webhooks/{endpoint.Id}/messages/{notice.Id}/redeliver", null),
            HttpStatusCode.NotFound, "not-found");
        DataFolderBytes.AssertHoldsNone(app.DataDirectory, [subject], subject, first["subjectCommitment"]!.GetValue<string>());
    }

    [Fact]
    public async Task Disabling_an_endpoint_with_an_undelivered_erasure_notice_destroys_its_payload()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App();
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, receiver.Url);
        receiver.Answer = _ => 500;
        var subject = NewSubjectId();
        await app.RecordForAsync(site, subject);
        using var legal = app.ClientWithKey(site.LegalKey);
        Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{subject}")).StatusCode);
        Assert.Equal(1, await CountPayloadsNamingAsync(app, subject));

        using var admin = app.ClientWithKey(site.AdminKey);
        var patched = await admin.PatchAsync($"/v1/sites/{site.Id}/webhooks/{endpoint.Id}",
            new StringContent("""{"enabled":false}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(0, await CountPayloadsNamingAsync(app, subject));
    }

    private static async Task<long> CountPayloadsNamingAsync(ConsentApiFactory app, string subject)
    {
        await using var connection = new SqliteConnection($"Data Source={app.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM webhook_messages WHERE instr(payload, $subject) > 0";
        command.Parameters.AddWithValue("$subject", subject);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
