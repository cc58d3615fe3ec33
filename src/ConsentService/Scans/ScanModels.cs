using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using ConsentService.Policies;

namespace ConsentService.Scans;

public enum ScanStatus { Queued, Running, Completed, Failed, Cancelled, Interrupted }

/// <summary>The three fresh browser profiles each page is visited in.</summary>
public enum ScanMode { NoDecision, Rejected, Accepted }

/// <summary>Either <see cref="Urls"/> or <see cref="StartUrl"/> (with <see cref="PageLimit"/>, following same-site links).</summary>
public sealed record StartScanRequest(
    [property: MaxLength(ScanRules.MaxPages)] IReadOnlyList<string>? Urls = null,
    [property: StringLength(2048)] string? StartUrl = null,
    [property: Range(1, ScanRules.MaxPages)] int? PageLimit = null);

/// <summary>A scan as stored: what was asked, how far it got, and the report once it has one.</summary>
public sealed record Scan(
    string Id,
    string SiteId,
    ScanStatus Status,
    DateTimeOffset CreatedAt,
    IReadOnlyList<string> Urls,
    string? StartUrl,
    int PageLimit,
    int PagesDone,
    DateTimeOffset? StartedAt = null,
    DateTimeOffset? FinishedAt = null,
    string? CurrentUrl = null,
    string? Error = null,
    ScanReport? Report = null)
{
    [JsonIgnore] public bool IsFinished => Status is not (ScanStatus.Queued or ScanStatus.Running);
}

/// <summary>A scan without its report: what the list answers.</summary>
public sealed record ScanSummary(
    string Id, ScanStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    int PagesDone, int PageLimit, string? CurrentUrl, string? Error)
{
    public static ScanSummary From(Scan s) => new(s.Id, s.Status, s.CreatedAt, s.StartedAt, s.FinishedAt, s.PagesDone, s.PageLimit, s.CurrentUrl, s.Error);
}

/// <summary>Which vendor a cookie or request belongs to, and where that was learnt.</summary>
/// <param name="Source">"policy" (the site's vendors), "catalogue" (the Open Cookie Database) or "unknown".</param>
/// <param name="Necessary">True for a required purpose or a functional catalogue entry: allowed before consent.</param>
public sealed record VendorMatch(string Vendor, string? Purpose, string Source, string? Category, bool Necessary, string? Description = null);

/// <summary>A cookie at the end of a visit, with the vendor it was matched to (flat: the report stays shallow).</summary>
public sealed record SeenCookie(
    string Name, string Domain, string Path, DateTimeOffset? Expires, bool ThirdParty, string? SetBy,
    string Vendor, string? Purpose, string Source, string? Category, bool Necessary)
{
    [JsonIgnore] public VendorMatch Match => new(Vendor, Purpose, Source, Category, Necessary);

    public static SeenCookie From(RawCookie c, bool thirdParty, VendorMatch m) =>
        new(c.Name, c.Domain, c.Path, c.Expires, thirdParty, c.SetBy, m.Vendor, m.Purpose, m.Source, m.Category, m.Necessary);
}

/// <summary>A request to another host than the page's (query strings dropped: they carry identifiers).</summary>
public sealed record SeenRequest(
    string Url, string Host, string Type, string? Initiator, bool ThirdParty,
    string Vendor, string? Purpose, string Source, string? Category, bool Necessary)
{
    [JsonIgnore] public VendorMatch Match => new(Vendor, Purpose, Source, Category, Necessary);

    public static SeenRequest From(RawRequest r, bool thirdParty, VendorMatch m) =>
        new(r.Url, r.Host, r.Type, r.Initiator, thirdParty, m.Vendor, m.Purpose, m.Source, m.Category, m.Necessary);
}

/// <summary>One page in one profile.</summary>
public sealed record PageVisit(
    string Url,
    ScanMode Mode,
    bool BannerFound,
    string? Error,
    IReadOnlyList<SeenCookie> Cookies,
    IReadOnlyList<SeenRequest> Requests,
    IReadOnlyList<string> LocalStorage,
    IReadOnlyList<string> SessionStorage,
    IReadOnlyList<string> ConsentMode);

/// <summary>A non-necessary cookie or request before a decision or after Reject all, by vendor.</summary>
public sealed record Violation(
    string Vendor, string? Purpose, string Source, IReadOnlyList<ScanMode> Modes,
    IReadOnlyList<string> Cookies, IReadOnlyList<string> Hosts, IReadOnlyList<string> Pages);

/// <summary>Cookies or hosts seen that the policy does not declare, by the vendor they most likely belong to.</summary>
public sealed record UndeclaredVendor(
    string Vendor, string? Category, string SuggestedPurpose,
    IReadOnlyList<string> Cookies, IReadOnlyList<string> Hosts, IReadOnlyList<string> Pages);

/// <summary>A vendor of the policy of which nothing was seen on any page in any profile.</summary>
public sealed record DeclaredUnseen(string Vendor, string Purpose, IReadOnlyList<string> Cookies);

public sealed record CatalogueInfo(string Name, string License, string Source, string Version, int Entries);

public sealed record ScanReport(
    string SiteId,
    int? PolicyVersion,
    DateTimeOffset GeneratedAt,
    CatalogueInfo Catalogue,
    IReadOnlyList<string> Pages,
    IReadOnlyList<PageVisit> Visits,
    IReadOnlyList<Violation> Violations,
    IReadOnlyList<UndeclaredVendor> Undeclared,
    IReadOnlyList<DeclaredUnseen> DeclaredButUnseen,
    PublishPolicyRequest? SuggestedPolicy);

public static class ScanRules
{
    public const int MaxPages = 100;
}
