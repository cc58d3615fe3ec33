using System.Text.Json.Serialization;

namespace ConsentService.Consents;

/// <summary>How a decision was collected; <c>api</c> is reserved for the site's back end (secret key).</summary>
public enum ConsentMethod { AcceptAll, RejectAll, Custom, Withdraw, Gpc, Api }

public sealed record SourceInput(string? Url = null, string? Locale = null);

/// <summary>The body of <c>POST /v1/sites/{siteId}/consents</c>, as JSON or as text/plain JSON.</summary>
/// <param name="IdempotencyKey">
/// The <c>Idempotency-Key</c> header's value, for clients that cannot send the header: a browser
/// posting text/plain without a CORS preflight (the snippet). Not part of the request's identity.
/// </param>
/// <param name="SubjectSecret">
/// The subject's write secret (anonymous writes): the first write stores its hash, every later anonymous
/// write for the subject must send the same. Without a subjectId and without a secret the service mints
/// both and answers the secret once. Never stored, logged or echoed; not part of the request's identity.
/// </param>
public sealed record RecordConsentRequest(
    int PolicyVersion,
    ConsentMethod Method,
    string? SubjectId = null,
    IReadOnlyDictionary<string, bool>? Purposes = null,
    SourceInput? Source = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IdempotencyKey = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SubjectSecret = null);

/// <summary>Where and how a decision was collected, minimised: no query string, coarse agent, truncated IP.</summary>
public sealed record ConsentSource(string? Url, string? Locale, string Jurisdiction, string? UserAgent, string? IpPrefix);

/// <summary>
/// One append-only ledger entry. <see cref="SubjectCommitment"/> and <see cref="SourceCommitment"/> stand in
/// for the personal fields in the hash, so the chain still verifies once those are erased (then
/// <see cref="SubjectId"/> and <see cref="Source"/> are null). <see cref="Sequence"/> orders the
/// subject's chain; <see cref="Position"/> orders the site's whole ledger (1, 2, … in commit order):
/// it is the record's leaf in the Merkle checkpoints and the cursor of ledger queries.
/// </summary>
public sealed record ConsentRecord(
    string Id,
    string SiteId,
    string? SubjectId,
    string SubjectCommitment,
    long Sequence,
    long Position,
    int PolicyVersion,
    string PolicyHash,
    IReadOnlyDictionary<string, bool> Purposes,
    ConsentMethod Method,
    ConsentSource? Source,
    string? SourceCommitment,
    DateTimeOffset RecordedAt,
    string? IdempotencyKey,
    string? RequestHash,
    string? PrevHash,
    string Hash);

/// <summary>
/// A record as the API shows it, with both commitments, so that every member of the hashed form is
/// shown and anyone can recompute <see cref="Hash"/> from the view alone.
/// </summary>
public sealed record ConsentRecordView(
    string Id,
    string? SubjectId,
    long Sequence,
    long Position,
    DateTimeOffset RecordedAt,
    int PolicyVersion,
    string PolicyHash,
    IReadOnlyDictionary<string, bool> Purposes,
    ConsentMethod Method,
    ConsentSource? Source,
    string? PrevHash,
    string Hash,
    string SubjectCommitment,
    string? SourceCommitment,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    Ledger.ConsentReceipt? Receipt = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    string? SubjectSecret = null)
{
    /// <summary>
    /// A record as the API shows it; <see cref="Receipt"/> only where a receipt is issued;
    /// <see cref="SubjectSecret"/> only in the answer to an anonymous write whose subject and secret the service minted (shown once).
    /// </summary>
    public static ConsentRecordView From(ConsentRecord r) => new(
        r.Id, r.SubjectId, r.Sequence, r.Position, r.RecordedAt, r.PolicyVersion, r.PolicyHash, r.Purposes, r.Method, r.Source, r.PrevHash, r.Hash,
        r.SubjectCommitment, r.SourceCommitment);
}

public sealed record SubjectHistory(string SubjectId, IReadOnlyList<ConsentRecordView> Records);

public sealed record PurposeState(bool Granted, DateTimeOffset? RecordedAt);

/// <summary>The answer to "what may I do with this subject's data now?".</summary>
public sealed record ConsentState(
    string SubjectId,
    int? PolicyVersion,
    int CurrentPolicyVersion,
    bool NeedsReconsent,
    ConsentMethod? Method,
    DateTimeOffset? RecordedAt,
    IReadOnlyDictionary<string, PurposeState> Purposes);

public sealed record PurposeCheck(string Purpose, bool Granted, bool NeedsReconsent);
