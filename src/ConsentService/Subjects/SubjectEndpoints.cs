using ConsentService.Audit;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Subjects;

/// <summary>Data subject requests: access / portability and erasure.</summary>
public static class SubjectEndpoints
{
    private const string HowToWithdraw =
        "Open the site's consent preferences (the footer link, or ConsentService.show() on the page) and refuse or withdraw; " +
        "the site's back end can also record a withdrawal for you. Withdrawing is as easy as consenting (GDPR Art. 7(3)).";

    public static IEndpointRouteBuilder MapSubjectEndpoints(this IEndpointRouteBuilder routes)
    {
        var subjects = routes.MapGroup("/v1/sites/{siteId}/subjects/{subjectId}").WithTags("Subjects");

        subjects.MapGet("/export", Export)
            .WithName("ExportSubject")
            .WithSummary("Access / portability: everything held on the subject, as JSON")
            .RequireSiteRole(SiteRole.Legal);

        subjects.MapDelete("/", Erase)
            .WithName("EraseSubject")
            .WithSummary("Erasure by crypto-shredding: the subject's key and personal fields go; hashes and checkpoints still verify")
            .RequireSiteRole(SiteRole.Legal);

        return routes;
    }

    private static async Task<Results<Ok<SubjectExport>, ValidationProblem, ProblemHttpResult>> Export(
        string siteId, string subjectId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, ConsentLedger ledger,
        IConsentStore store, TimeProvider time, CancellationToken ct)
    {
        if (!SubjectIds.IsValid(subjectId))
        {
            return Problems.Validation("subjectId", SubjectIds.Rule);
        }
        var records = await ledger.HistoryAsync(siteId, subjectId, ct);
        var links = await store.ListLinkedSubjectsAsync(siteId, subjectId, ct);
        if (records.Count == 0 && links.Count == 0)
        {
            return Problems.NotFound($"Nothing is held on subject '{subjectId}'.");
        }
        if (records.Count > 0) http.ReportAuditSubject(records[0].SubjectCommitment);
        var site = (await sites.GetAsync(siteId, ct))!;
        var versions = await policies.ListAsync(siteId, ct);
        List<SubjectRecord> Describe(IEnumerable<ConsentRecord> of) => [.. of.Select(r => SubjectEndpoints.Describe(r, site, versions.First(p => p.Version == r.PolicyVersion)))];
        // A user id's linked anonymous histories (Identity) are held on the same person: they belong in the answer.
        var linked = new List<LinkedSubjectExport>();
        foreach (var link in links)
        {
            linked.Add(new LinkedSubjectExport(link.SubjectId, link.LinkedAt, Describe(await ledger.HistoryAsync(siteId, link.SubjectId, ct))));
        }
        http.Response.Headers.ContentDisposition = "attachment; filename=\"subject-export.json\"";
        return TypedResults.Ok(new SubjectExport(subjectId, siteId, site.Name, time.Now(), HowToWithdraw,
            ledger.Evaluate(site, versions, subjectId, records.Count > 0 ? records[^1] : null), Describe(records), linked.Count > 0 ? linked : null));
    }

    private static SubjectRecord Describe(ConsentRecord r, Site site, Policy policy)
    {
        var optional = policy.OptionalPurposes.Select(p => r.Purposes.GetValueOrDefault(p.Id)).ToList();
        var eventType = r.Method == ConsentMethod.Withdraw ? "withdrawn" : optional.Any(granted => granted) ? "given" : "refused";
        var validFor = eventType == "given" ? site.ConsentMaxAgeDays : site.RefusalReaskDays;
        return new SubjectRecord(
            r.Id, r.RecordedAt, eventType, r.Method, r.RecordedAt.AddDays(validFor),
            new SubjectNotice(policy.Version, policy.ContentHash, policy.Content.PrivacyPolicyUrl, r.Source?.Locale),
            r.Source?.Jurisdiction,
            r.Source is { } s ? new SubjectSource(s.Url, s.UserAgent, s.IpPrefix) : null,
            [.. policy.Content.Purposes.Select(p => new SubjectPurpose(p.Id, r.Purposes.GetValueOrDefault(p.Id), p.Required, p.LegalBasis,
                [.. (p.Vendors ?? []).Select(v => v.Name)]))],
            new SubjectRecordProof(r.Sequence, r.Position, r.PrevHash, r.Hash, r.SubjectCommitment, r.SourceCommitment));
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Erase(
        string siteId, string subjectId, HttpContext http, ConsentLedger ledger, IConsentStore store, CancellationToken ct)
    {
        if (!SubjectIds.IsValid(subjectId))
        {
            return Problems.Validation("subjectId", SubjectIds.Rule);
        }
        // A user id's linked anonymous subjects first (Identity): each is shredded as any subject is, and its
        // erasure deletes its link, so no link is left that names the user once the user's own erasure is done.
        string? linkedCommitment = null;
        foreach (var link in await store.ListLinkedSubjectsAsync(siteId, subjectId, ct))
        {
            var erased = await ledger.EraseAsync(siteId, link.SubjectId, ct);
            linkedCommitment ??= erased;
        }
        if ((await ledger.EraseAsync(siteId, subjectId, ct) ?? linkedCommitment) is not { } commitment)
        {
            return Problems.NotFound($"Nothing is held on subject '{subjectId}'.");
        }
        http.ReportAuditSubject(commitment);
        return TypedResults.NoContent();
    }
}
