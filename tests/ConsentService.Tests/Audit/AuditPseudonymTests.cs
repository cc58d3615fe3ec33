using System.Net;
using System.Text;
using ConsentService.Tests.Infrastructure;
using ConsentService.Tests.Legal;
using static ConsentService.Tests.Audit.AuditApi;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Audit;

/// <summary>Audit events name a subject by its commitment, a pseudonym, never by its id: not in the target, the path, or the file.</summary>
public sealed class AuditPseudonymTests
{
    [Fact]
    public async Task History_export_and_erasure_events_carry_the_subjects_commitment_and_no_file_or_answer_holds_its_id()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateAuditedSiteAsync();
        const string subject = "user:pseudonym-marker-7319";
        var other = NewSubjectId();
        using var admin = app.Client(site.AdminKey);
        foreach (var (id, method) in new[] { (subject, "accept_all"), (other, "reject_all"), (subject, "withdraw") })
        {
            Assert.Equal(HttpStatusCode.Created, (await admin.PostConsentAsync(site.Id, new { subjectId = id, policyVersion = 1, method }, "application/json")).StatusCode);
        }
        var pseudonym = await SubjectCommitmentAsync(app.DatabasePath, site.Id, subject);
        var otherPseudonym = await SubjectCommitmentAsync(app.DatabasePath, site.Id, other);
        using var legal = app.Client(site.LegalKey);
        var s = $"/v1/sites/{site.Id}";

        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"{s}/subjects/{subject}/history")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"{s}/subjects/{subject}/export")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"{s}/subjects/{other}/history")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"{s}/consents?subjectId={Uri.EscapeDataString(subject)}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"{s}/consents/export?format=csv&subjectId={Uri.EscapeDataString(subject)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"{s}/subjects/{subject}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await legal.GetAsync($"{s}/subjects/{subject}/history")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await legal.DeleteAsync($"{s}/subjects/{subject}")).StatusCode);

        var events = await app.EventsAsync(site.Id, site.AdminKey);
        string? Subject(string action, int outcome, int skip = 0) =>
            events.Where(e => e.Action() == action && e.Outcome() == outcome).Skip(skip).First().Target().GetValueOrDefault("subject");
        // One subject, one pseudonym across its events while it existed; another subject, another one.
        Assert.Equal(pseudonym, Subject("EraseSubject", 204));
        Assert.Equal(pseudonym, Subject("ExportSubject", 200));
        Assert.Equal([otherPseudonym, pseudonym], events.Where(e => e.Action() == "GetSubjectHistory" && e.Outcome() == 200).Select(e => e.Target()["subject"]));
        // After the erasure there is no key, so no commitment: never the id instead.
        Assert.Equal("unknown", Subject("GetSubjectHistory", 404));
        Assert.Equal("unknown", Subject("EraseSubject", 404));
        Assert.Equal($"{s}/subjects/~subject", events.First(e => e.Action() == "EraseSubject")["path"]!.GetValue<string>());
        Assert.Equal($"{s}/consents", events.First(e => e.Action() == "QueryConsents")["path"]!.GetValue<string>());

        using var raw = app.Client(site.AdminKey);
        Assert.DoesNotContain("pseudonym-marker-7319", await raw.GetStringAsync($"{s}/audit/logs?limit=1000"));
        Assert.DoesNotContain("pseudonym-marker-7319", await raw.GetStringAsync($"{s}/audit/logs/export"));
        var audit = DataFolderBytes.ReadAll(app.DataDirectory).Where(f => f.Name.StartsWith("audit.db", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(audit);
        Assert.All(audit, f => Assert.True(f.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes("pseudonym-marker-7319")) < 0, $"The id is in {f.Name}"));
        Assert.Contains(audit, f => f.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(pseudonym)) >= 0);
    }

    [Fact]
    public async Task A_refused_or_invalid_subject_request_records_unknown_and_no_id()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateAuditedSiteAsync();
        using var check = app.Client(site.CheckKey);
        using var legal = app.Client(site.LegalKey);
        var subject = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = subject, policyVersion = 1, method = "accept_all" });

        Assert.Equal(HttpStatusCode.Forbidden, (await check.DeleteAsync($"/v1/sites/{site.Id}/subjects/{subject}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/bad%20id%20marker/export")).StatusCode);

        var events = await app.EventsAsync(site.Id, site.AdminKey);
        Assert.Equal(["unknown", "unknown"], events.Take(2).Select(e => e.Target()["subject"]));
        Assert.All(events, e => Assert.DoesNotContain(subject, e.ToJsonString()));
        Assert.All(events, e => Assert.DoesNotContain("marker", e.ToJsonString()));
        Assert.Equal($"/v1/sites/{site.Id}/subjects/~subject/export", events[0]["path"]!.GetValue<string>());
    }
}
