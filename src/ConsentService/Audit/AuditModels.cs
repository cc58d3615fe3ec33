using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Mvc;

namespace ConsentService.Audit;

/// <summary>
/// One secret-key request, as the audit log keeps it. Never updated but in one way: an admin may delete
/// an event by its request id, which turns it into a tombstone (<see cref="Deleted"/> set, every field
/// describing the request null; id, site, time and request id kept). Past the site's retention the stores
/// delete events whole.
/// </summary>
/// <param name="Id">UUIDv7 (time-ordered).</param>
/// <param name="SiteId">The site whose log holds the event: the key's own site, or the site the operator acted on.</param>
/// <param name="At">When the request finished (server clock, milliseconds).</param>
/// <param name="KeyId">The API key's id; null for the operator key, which has none.</param>
/// <param name="Role"><c>operator</c>, <c>admin</c>, <c>legal</c> or <c>check</c>.</param>
/// <param name="Action">The endpoint's name, e.g. <c>IssueApiKey</c>.</param>
/// <param name="Target">The route values besides the site id: <c>subjectId</c>, <c>keyId</c>, <c>version</c>…</param>
/// <param name="RequestId">The id every problem response quotes as <c>requestId</c>.</param>
/// <param name="Outcome">The HTTP status answered.</param>
/// <param name="ClientIp">The caller's network, truncated to /24 (IPv4) or /48 (IPv6) like consent sources.</param>
/// <param name="Deleted">Set on a tombstone: when and by whom the event was deleted; null otherwise.</param>
public sealed record AuditEvent(
    string Id,
    string SiteId,
    DateTimeOffset At,
    string? KeyId,
    string? Role,
    string? Action,
    IReadOnlyDictionary<string, string>? Target,
    string RequestId,
    int? Outcome,
    string? ClientIp,
    string? Method,
    string? Path,
    AuditDeletion? Deleted = null)
{
    /// <summary>What is left of this event once deleted: its id, site, time and request id, and the deletion.</summary>
    public AuditEvent Tombstone(AuditDeletion deletion) =>
        new(Id, SiteId, At, null, null, null, null, RequestId, null, null, null, null, deletion);
}

/// <summary>The deletion of an event by request (<c>DELETE …/audit/logs/{requestId}</c>): when, by which key and role.</summary>
/// <param name="KeyId">The deleting key's id; null for the operator key.</param>
public sealed record AuditDeletion(DateTimeOffset At, string? KeyId, string Role);

public static class AuditRoles
{
    /// <summary>The configuration key that creates sites; the other roles are <see cref="Sites.SiteRole"/> names.</summary>
    public const string Operator = "operator";
}

/// <summary>
/// Who a request authenticated as, set by <see cref="Infrastructure.KeyAuthenticator"/> once it accepts a key
/// (kept in <c>HttpContext.Features</c>). Its presence is what makes a request auditable.
/// </summary>
/// <param name="SiteId">The log the request belongs in: the key's site, the site the operator acted on,
/// or null when that is only known from the response (the operator creating a site).</param>
public sealed record AuthenticatedKey(string? KeyId, string Role, string? SiteId);

/// <summary>Filters of an audit query; null means "any". <see cref="From"/> is inclusive, <see cref="To"/> exclusive.</summary>
public sealed record AuditFilter(
    string? Action = null, string? KeyId = null, int? Outcome = null, DateTimeOffset? From = null, DateTimeOffset? To = null);

/// <summary>
/// Where a page ended. Each store uses its own part: SQLite its append sequence, MongoDB the
/// <c>(at, _id)</c> pair its index is ordered by.
/// </summary>
public sealed record AuditPosition(long Sequence, DateTimeOffset At, string Id)
{
    private const string Version = "a1";

    /// <summary>The opaque base64url cursor clients pass back.</summary>
    public string Encode() =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            string.Join('.', Version, Sequence.ToString(CultureInfo.InvariantCulture), At.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), Id)));

    public static AuditPosition? Decode(string cursor)
    {
        if (cursor.Length > 200 || !Base64Url.IsValid(cursor))
        {
            return null;
        }
        string text;
        try
        {
            text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (FormatException)
        {
            return null;
        }
        var parts = text.Split('.');
        return parts.Length == 4 && parts[0] == Version
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            && long.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var millis)
            && millis is >= -62135596800000 and <= 253402300799999 // what DateTimeOffset can hold
            && Guid.TryParseExact(parts[3], "D", out _)
            ? new AuditPosition(sequence, DateTimeOffset.FromUnixTimeMilliseconds(millis), parts[3])
            : null;
    }
}

/// <summary>One page from a store: newest first; <see cref="Next"/> is null on the last page.</summary>
public sealed record AuditPage(IReadOnlyList<AuditEvent> Items, AuditPosition? Next);

/// <summary>The answer of <c>GET …/audit/logs</c>.</summary>
/// <param name="NextCursor">Pass it as <c>cursor</c> for the next (older) page; null on the last page.</param>
public sealed record AuditLogPage(IReadOnlyList<AuditEvent> Items, string? NextCursor);

/// <summary>
/// The filters of <c>GET …/audit/logs</c> and its export. Bound as text and parsed by
/// <see cref="AuditQueryParser"/>, so a bad value is a 400 that names the parameter, not a binding failure;
/// <c>AuditEndpoints</c> describes them in the OpenAPI document.
/// </summary>
public sealed record AuditFilterQuery(
    [FromQuery(Name = "action")] string? Action,
    [FromQuery(Name = "keyId")] string? KeyId,
    [FromQuery(Name = "outcome")] string? Outcome,
    [FromQuery(Name = "from")] string? From,
    [FromQuery(Name = "to")] string? To);

/// <summary><see cref="AuditFilterQuery"/> plus paging.</summary>
public sealed record AuditLogQuery(
    [FromQuery(Name = "action")] string? Action,
    [FromQuery(Name = "keyId")] string? KeyId,
    [FromQuery(Name = "outcome")] string? Outcome,
    [FromQuery(Name = "from")] string? From,
    [FromQuery(Name = "to")] string? To,
    [FromQuery(Name = "cursor")] string? Cursor,
    [FromQuery(Name = "limit")] string? Limit)
{
    public AuditFilterQuery ToFilterQuery() => new(Action, KeyId, Outcome, From, To);
}
