using System.Net;
using ConsentService.Policies;
using ConsentService.Scans.Catalogue;

namespace ConsentService.Scans;

/// <summary>
/// Turns what the browser saw into findings: each cookie and third-party request is matched against the
/// site's policy (vendors and their cookie patterns) and then the tracker catalogue; what is not necessary
/// and seen before a decision or after Reject all is a violation; what the policy lacks is undeclared,
/// with a patched policy to review; what the policy declares and no page showed is declared but unseen.
/// </summary>
public sealed class ScanAnalyzer(CookieCatalogue catalogue)
{
    public const string ServiceVendor = "ConsentService";

    public ScanReport Analyze(string siteId, Policy? policy, IReadOnlyList<(string Url, IReadOnlyList<RawVisit> Visits)> pages, DateTimeOffset now)
    {
        var vendors = (policy?.Content.Purposes ?? []).SelectMany(p => (p.Vendors ?? []).Select(v => (Purpose: p, Vendor: v))).ToList();

        VendorMatch? PolicyCookie(string name) => vendors
            .Where(x => (x.Vendor.Cookies ?? []).Any(pattern => Glob(pattern, name)))
            .Select(x => new VendorMatch(x.Vendor.Name, x.Purpose.Id, "policy", null, x.Purpose.Required)).FirstOrDefault();

        VendorMatch MatchCookie(RawCookie c) =>
            PolicyCookie(c.Name)
            ?? (catalogue.FindCookie(c.Name) is { } e ? new VendorMatch(e.Platform, null, "catalogue", e.Category, e.Necessary, e.Description) : null)
            ?? new VendorMatch(HostOf(c.SetBy) ?? c.Domain.TrimStart('.'), null, "unknown", null, Necessary: false);

        // Hosts learnt from cookies: the script or response that set a cookie of vendor V came from V's host.
        var hostVendors = new Dictionary<string, VendorMatch>(StringComparer.OrdinalIgnoreCase);
        foreach (var cookie in pages.SelectMany(p => p.Visits).SelectMany(v => v.Cookies))
        {
            if (HostOf(cookie.SetBy) is { } host && MatchCookie(cookie) is { Source: not "unknown" } m)
            {
                if (!hostVendors.TryGetValue(host, out var known) || (known.Source != "policy" && m.Source == "policy")) hostVendors[host] = m;
            }
        }

        VendorMatch? ByHost(string host) =>
            vendors.Where(x => x.Vendor.PrivacyPolicyUrl is { } u && Uri.TryCreate(u, UriKind.Absolute, out var uri) && SiteOf(uri.Host) == SiteOf(host))
                .Select(x => new VendorMatch(x.Vendor.Name, x.Purpose.Id, "policy", null, x.Purpose.Required)).FirstOrDefault()
            ?? hostVendors.GetValueOrDefault(host);

        VendorMatch MatchRequest(RawRequest r) =>
            (r.Url.Contains($"/v1/sites/{siteId}/", StringComparison.Ordinal)
                ? new VendorMatch(ServiceVendor, vendors.FirstOrDefault(x => x.Vendor.Name == ServiceVendor).Purpose?.Id, "policy", null, Necessary: true)
                : null)
            ?? ByHost(r.Host)
            ?? (HostOf(r.Initiator) is { } by && SiteOf(by) != SiteOf(r.Host) ? ByHost(by) : null)
            ?? (catalogue.FindHost(r.Host) is { } e ? new VendorMatch(e.Platform, null, "catalogue", e.Category, e.Necessary) : null)
            ?? new VendorMatch(r.Host, null, "unknown", null, Necessary: false);

        var reports = new List<PageVisit>();
        var violations = new Dictionary<string, (VendorMatch Match, SortedSet<ScanMode> Modes, SortedSet<string> Cookies, SortedSet<string> Hosts, SortedSet<string> Pages)>(StringComparer.Ordinal);
        var undeclared = new Dictionary<string, (VendorMatch Match, SortedSet<string> Cookies, SortedSet<string> Hosts, SortedSet<string> Pages, string Scheme)>(StringComparer.Ordinal);
        var seenVendors = new HashSet<(string, string?)>();

        foreach (var (url, visits) in pages)
        {
            var pageHost = new Uri(url).Host;
            var pageSite = SiteOf(pageHost);
            foreach (var visit in visits)
            {
                var cookies = visit.Cookies.Select(c => SeenCookie.From(c, SiteOf(c.Domain.TrimStart('.')) != pageSite, MatchCookie(c))).OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
                var requests = visit.Requests.Where(r => !r.Host.Equals(pageHost, StringComparison.OrdinalIgnoreCase))
                    .Select(r => SeenRequest.From(r, SiteOf(r.Host) != pageSite, r.Blocked ? Blocked : MatchRequest(r)))
                    .OrderBy(r => r.Url, StringComparer.Ordinal).ToList();
                reports.Add(new PageVisit(url, visit.Mode, visit.BannerFound, visit.Error, cookies, requests,
                    visit.LocalStorage, visit.SessionStorage, visit.ConsentMode));

                foreach (var (match, cookie, host, scheme) in cookies.Select(c => (c.Match, (string?)c.Name, (string?)null, "https"))
                    .Concat(requests.Where(r => r.ThirdParty && r.Source != "blocked").Select(r => (r.Match, (string?)null, (string?)r.Host, new Uri(r.Url).Scheme))))
                {
                    if (match.Source == "policy") seenVendors.Add((match.Vendor, match.Purpose));
                    if (visit.Mode != ScanMode.Accepted && !match.Necessary && match.Source != "unknown")
                    {
                        if (!violations.TryGetValue(match.Vendor, out var v)) violations[match.Vendor] = v = (match, [], new(StringComparer.Ordinal), new(StringComparer.Ordinal), new(StringComparer.Ordinal));
                        v.Modes.Add(visit.Mode);
                        if (cookie is not null) v.Cookies.Add(cookie);
                        if (host is not null) v.Hosts.Add(host);
                        v.Pages.Add(url);
                    }
                    if (match.Source != "policy")
                    {
                        if (!undeclared.TryGetValue(match.Vendor, out var u)) undeclared[match.Vendor] = u = (match, new(StringComparer.Ordinal), new(StringComparer.Ordinal), new(StringComparer.Ordinal), scheme);
                        if (cookie is not null) u.Cookies.Add(PatternFor(cookie));
                        if (host is not null) u.Hosts.Add(host);
                        u.Pages.Add(url);
                    }
                }
            }
        }

        var purposes = policy?.Content.Purposes ?? [];
        var undeclaredList = undeclared.Values.Select(u => new UndeclaredVendor(u.Match.Vendor, u.Match.Category, SuggestPurpose(purposes, u.Match.Category),
            [.. u.Cookies], [.. u.Hosts], [.. u.Pages])).OrderBy(u => u.Vendor, StringComparer.Ordinal).ToList();
        return new ScanReport(
            siteId,
            policy?.Version,
            now,
            catalogue.Info,
            [.. pages.Select(p => p.Url)],
            reports,
            [.. violations.Values.Select(v => new Violation(v.Match.Vendor, v.Match.Purpose ?? v.Match.Category?.ToLowerInvariant(), v.Match.Source,
                [.. v.Modes], [.. v.Cookies], [.. v.Hosts], [.. v.Pages])).OrderBy(v => v.Vendor, StringComparer.Ordinal)],
            undeclaredList,
            [.. vendors.Where(x => !seenVendors.Contains((x.Vendor.Name, x.Purpose.Id)))
                .Select(x => new DeclaredUnseen(x.Vendor.Name, x.Purpose.Id, x.Vendor.Cookies ?? []))],
            policy is null || undeclaredList.Count == 0 ? null : SuggestPolicy(policy, undeclaredList, undeclared.ToDictionary(u => u.Key, u => u.Value.Scheme)));
    }

    private static readonly VendorMatch Blocked = new("(refused: non-public address)", null, "blocked", null, Necessary: true);

    /// <summary>The policy with each undeclared vendor added to its suggested purpose; the admin reviews and publishes it.</summary>
    private PublishPolicyRequest SuggestPolicy(Policy policy, IReadOnlyList<UndeclaredVendor> found, IReadOnlyDictionary<string, string> schemes)
    {
        var purposes = policy.Content.Purposes.Select(p => p with { Vendors = [.. p.Vendors ?? []] }).ToList();
        foreach (var u in found)
        {
            var at = purposes.FindIndex(p => p.Id == u.SuggestedPurpose);
            if (at < 0) continue;
            var list = purposes[at].Vendors!.ToList();
            var existing = list.FindIndex(v => v.Name.Equals(u.Vendor, StringComparison.OrdinalIgnoreCase));
            var privacy = u.Cookies.Select(c => catalogue.FindCookie(c.TrimEnd('*'))?.PrivacyUrl).FirstOrDefault(p => p is not null && PolicyValidator.IsWebUrl(p))
                ?? u.Hosts.Select(h => $"{schemes.GetValueOrDefault(u.Vendor, "https")}://{h}/").FirstOrDefault();
            if (existing >= 0)
            {
                var merged = (list[existing].Cookies ?? []).Union(u.Cookies, StringComparer.Ordinal).Take(50).ToList();
                list[existing] = list[existing] with { Cookies = merged, PrivacyPolicyUrl = list[existing].PrivacyPolicyUrl ?? privacy };
            }
            else if (list.Count < 50)
            {
                list.Add(new Vendor(u.Vendor.Length > 100 ? u.Vendor[..100] : u.Vendor, privacy, [.. u.Cookies.Where(c => c.Length <= 100).Take(50)]));
            }
            purposes[at] = purposes[at] with { Vendors = list };
        }
        return new PublishPolicyRequest(purposes, policy.Content.Texts, policy.Content.PrivacyPolicyUrl);
    }

    /// <summary>A catalogue wildcard entry becomes a pattern (<c>_hjSessionUser_*</c>): the suffix differs per site or visitor.</summary>
    private string PatternFor(string cookie) =>
        catalogue.FindCookie(cookie) is { Wildcard: true } e ? e.Name + "*" : cookie;

    /// <summary>The policy purpose a catalogue category belongs to; unknown and unmatched ones need consent (the safe side).</summary>
    private static string SuggestPurpose(IReadOnlyList<Purpose> purposes, string? category)
    {
        string? wanted = category switch
        {
            "Analytics" => "analytics",
            "Marketing" => "marketing",
            "Personalization" => "preferences",
            "Functional" or "Security" or "Necessary" => purposes.FirstOrDefault(p => p.Required)?.Id,
            _ => "marketing",
        };
        return purposes.FirstOrDefault(p => p.Id == wanted)?.Id
            ?? purposes.FirstOrDefault(p => !p.Required)?.Id
            ?? (purposes.Count > 0 ? purposes[0].Id : null)
            ?? "marketing";
    }

    /// <summary>Policy cookie patterns: <c>*</c> stands for any run of characters; everything else is literal.</summary>
    public static bool Glob(string pattern, string name)
    {
        var parts = pattern.Split('*');
        if (parts.Length == 1) return pattern == name;
        if (!name.StartsWith(parts[0], StringComparison.Ordinal) || !name.EndsWith(parts[^1], StringComparison.Ordinal)) return false;
        var at = parts[0].Length;
        var end = name.Length - parts[^1].Length;
        if (end < at) return false;
        for (var i = 1; i < parts.Length - 1; i++)
        {
            var found = name.IndexOf(parts[i], at, end - at, StringComparison.Ordinal);
            if (found < 0) return false;
            at = found + parts[i].Length;
        }
        return true;
    }

    private static string? HostOf(string? url) => url is not null && Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u.Host : null;

    /// <summary>
    /// The registrable part of a host, approximated as its last two labels (an address stays whole): enough to
    /// tell first from third party for the report. Multi-label public suffixes (co.uk) make two hosts of
    /// different owners look alike, which errs towards "first party", never towards a false violation.
    /// </summary>
    public static string SiteOf(string host)
    {
        host = host.Trim('[', ']').TrimEnd('.').ToLowerInvariant();
        if (IPAddress.TryParse(host, out _)) return host;
        var labels = host.Split('.');
        return labels.Length <= 2 ? host : string.Join('.', labels[^2..]);
    }
}
