namespace ConsentService.Audit;

/// <summary>
/// The pseudonym under which the audit log names a request's subject: the subject's commitment, the
/// HMAC of its id under its own key, exactly as its ledger records carry it. An auditor can follow one
/// subject's events while the subject exists; once it is erased, its key is gone and nothing links the
/// pseudonym back to the id. The raw id never reaches the audit store.
/// <para>
/// An endpoint that finds the subject reports its commitment with <see cref="ReportAuditSubject"/>
/// (kept in <c>HttpContext.Features</c>); the audit capture only reads it. A route naming a subject
/// the endpoint did not report (unknown, invalid, refused before it ran) is recorded as <see cref="Unknown"/>.
/// </para>
/// </summary>
public sealed record AuditSubject(string Commitment)
{
    /// <summary>The target's key for the pseudonym.</summary>
    public const string TargetKey = "subject";

    /// <summary>The subject of a request that found none: no key, so no commitment; never the id.</summary>
    public const string Unknown = "unknown";

    /// <summary>What replaces the id in the recorded path.</summary>
    public const string PathPlaceholder = "~subject";

    /// <summary>The route value that holds a subject id.</summary>
    public const string RouteValue = "subjectId";
}

public static class AuditSubjectReporting
{
    /// <summary>Names the request's subject in its audit event by <paramref name="commitment"/>.</summary>
    public static void ReportAuditSubject(this HttpContext http, string commitment) =>
        http.Features.Set(new AuditSubject(commitment));
}
