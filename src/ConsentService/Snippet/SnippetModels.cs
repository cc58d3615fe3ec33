using ConsentService.Policies;
using ConsentService.Sites;

namespace ConsentService.Snippet;

/// <summary>
/// Everything the snippet needs, inlined into <c>consent.js</c> (and served alone by <c>…/config</c>):
/// the site's current policy reduced to what a visitor is shown, and the site's rules.
/// </summary>
/// <param name="Api">
/// Base URL the snippet posts decisions to: the configured <c>PublicUrl</c>. Absent when none is
/// configured: the snippet then posts to where it was loaded from (its own <c>&lt;script src&gt;</c>),
/// and other clients of <c>…/config</c> to where they fetched it from.
/// </param>
/// <param name="Version">The current policy version; decisions are recorded against it.</param>
/// <param name="MaterialVersion">The latest material version: a decision for an earlier version is stale and asked again.</param>
/// <param name="JurisdictionMode">As configured on the site.</param>
/// <param name="Jurisdiction">The mode resolved for this request: <c>auto</c> becomes <c>ccpa</c> or <c>gdpr</c> from the visitor's country.</param>
/// <param name="CookieDomain">The site's <c>cookieDomain</c>: the Domain the decision cookie is written with, shared by its subdomains. Absent: host-only.</param>
public sealed record SnippetConfig(
    string SiteId,
    string? Api,
    int Version,
    int MaterialVersion,
    string ContentHash,
    string DefaultLocale,
    JurisdictionMode JurisdictionMode,
    JurisdictionMode Jurisdiction,
    int ConsentMaxAgeDays,
    int RefusalReaskDays,
    string? PrivacyPolicyUrl,
    IReadOnlyList<SnippetPurpose> Purposes,
    IReadOnlyDictionary<string, PolicyTexts> Texts,
    string? CookieDomain = null);

/// <summary>A purpose as the preferences dialog lists it; legal bases stay in the full policy.</summary>
public sealed record SnippetPurpose(string Id, bool Required, IReadOnlyList<SnippetVendor>? Vendors);

/// <summary>A vendor with the cookie and localStorage key patterns the snippet deletes when its purpose is refused or withdrawn.</summary>
public sealed record SnippetVendor(string Name, IReadOnlyList<string>? Cookies, IReadOnlyList<string>? LocalStorage = null);
