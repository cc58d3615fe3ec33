using ConsentService.Consents;
using ConsentService.Policies;

namespace ConsentService.Subjects;

/// <summary>
/// Everything held on one subject (GDPR Art. 15 and 20), in the vocabulary of ISO/IEC TS 27560 and
/// the Kantara consent receipt: notice, purposes with lawful basis and recipients, method, event
/// time and type, validity, and how to withdraw.
/// </summary>
public sealed record SubjectExport(
    string SubjectId,
    string SiteId,
    string SiteName,
    DateTimeOffset ExportedAt,
    string HowToWithdraw,
    ConsentState CurrentState,
    IReadOnlyList<SubjectRecord> Records,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<LinkedSubjectExport>? LinkedSubjects = null);

/// <summary>For a user id: an anonymous subject linked to it (Identity), with everything held on it.</summary>
public sealed record LinkedSubjectExport(string SubjectId, DateTimeOffset LinkedAt, IReadOnlyList<SubjectRecord> Records);

public sealed record SubjectRecord(
    string RecordId,
    DateTimeOffset EventTime,
    string EventType,
    ConsentMethod CollectionMethod,
    DateTimeOffset ValidUntil,
    SubjectNotice Notice,
    string? Jurisdiction,
    SubjectSource? Source,
    IReadOnlyList<SubjectPurpose> Purposes,
    SubjectRecordProof Proof);

public sealed record SubjectNotice(int PolicyVersion, string ContentHash, string? PrivacyPolicyUrl, string? Language);

public sealed record SubjectSource(string? PageUrl, string? UserAgent, string? IpPrefix);

public sealed record SubjectPurpose(string Id, bool Granted, bool Required, LegalBasis LawfulBasis, IReadOnlyList<string> Recipients);

/// <summary>
/// The record's place in the ledger and its commitments. The subject's key is deliberately not exported:
/// it is the crypto-shredding key, and a copy outside the service would let whoever holds the export
/// re-link the anonymous records to the person after an erasure.
/// </summary>
public sealed record SubjectRecordProof(long Sequence, long Position, string? PrevHash, string Hash, string SubjectCommitment, string? SourceCommitment);
