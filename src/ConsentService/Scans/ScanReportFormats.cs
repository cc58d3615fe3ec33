using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace ConsentService.Scans;

/// <summary>The report as CSV (one row per cookie or request per visit) and as a standalone HTML page.</summary>
public static class ScanReportFormats
{
    public static string Csv(ScanReport report)
    {
        var csv = new StringBuilder("page,mode,kind,name,host_or_domain,third_party,set_by_or_initiator,vendor,purpose,source,finding\r\n");
        var violating = report.Violations.ToDictionary(v => v.Vendor, StringComparer.Ordinal);
        var undeclared = report.Undeclared.Select(u => u.Vendor).ToHashSet(StringComparer.Ordinal);
        string Finding(VendorMatch m, ScanMode mode) =>
            violating.ContainsKey(m.Vendor) && mode != ScanMode.Accepted && !m.Necessary ? "violation"
            : undeclared.Contains(m.Vendor) ? "undeclared" : "";
        foreach (var visit in report.Visits)
        {
            {
                var mode = Infrastructure.JsonDefaults.Name(visit.Mode);
                foreach (var c in visit.Cookies)
                {
                    Row(csv, visit.Url, mode, "cookie", c.Name, c.Domain, c.ThirdParty ? "yes" : "no", c.SetBy, c.Match.Vendor, c.Match.Purpose ?? c.Match.Category, c.Match.Source, Finding(c.Match, visit.Mode));
                }
                foreach (var r in visit.Requests)
                {
                    Row(csv, visit.Url, mode, "request", r.Url, r.Host, r.ThirdParty ? "yes" : "no", r.Initiator, r.Match.Vendor, r.Match.Purpose ?? r.Match.Category, r.Match.Source,
                        r.Match.Source == "blocked" ? "refused" : r.ThirdParty ? Finding(r.Match, visit.Mode) : "");
                }
            }
        }
        return csv.ToString();
    }

    private static void Row(StringBuilder csv, params string?[] fields)
    {
        csv.AppendJoin(',', fields.Select(Field)).Append("\r\n");
    }

    /// <summary>RFC 4180 quoting; a leading = + - @ is prefixed with ' so a spreadsheet never runs it as a formula.</summary>
    private static string Field(string? value)
    {
        value ??= "";
        if (value.Length > 0 && "=+-@\t\r".Contains(value[0], StringComparison.Ordinal)) value = "'" + value;
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }

    /// <summary>The HTML page and the Content-Security-Policy that lets exactly its one stylesheet apply: no script at all.</summary>
    public static (string Html, string Policy) Html(Scan scan, ScanReport report)
    {
        var h = new StringBuilder();
        var style = Style;
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(style)));
        h.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
         .Append("<title>Tracker scan ").Append(E(scan.Id)).Append(" — ").Append(E(report.SiteId)).Append("</title><style>").Append(style).Append("</style></head><body><main>");
        h.Append("<h1>Tracker scan of <code>").Append(E(report.SiteId)).Append("</code></h1>");
        h.Append("<p class=\"meta\">Scan <code>").Append(E(scan.Id)).Append("</code> · ").Append(E(Infrastructure.JsonDefaults.Name(scan.Status)))
         .Append(" · ").Append(report.Pages.Count).Append(" page(s) · policy version ").Append(report.PolicyVersion?.ToString(CultureInfo.InvariantCulture) ?? "none")
         .Append(" · ").Append(E(report.GeneratedAt.ToString("u", CultureInfo.InvariantCulture))).Append("</p>");
        if (scan.Error is { } error) h.Append("<p class=\"note\">").Append(E(error)).Append("</p>");

        h.Append("<section class=\"cards\">")
         .Append(Card("Violations", report.Violations.Count, "bad", "Non-necessary cookies or requests before a decision or after Reject all"))
         .Append(Card("Undeclared", report.Undeclared.Count, "warn", "Vendors seen but absent from the policy"))
         .Append(Card("Declared, never seen", report.DeclaredButUnseen.Count, "info", "Vendors of the policy no page showed"))
         .Append("</section>");

        h.Append("<h2>Violations</h2>");
        if (report.Violations.Count == 0) h.Append("<p class=\"ok\">None: nothing non-necessary before consent or after Reject all.</p>");
        else
        {
            h.Append("<table><thead><tr><th>Vendor</th><th>Purpose</th><th>When</th><th>Cookies</th><th>Hosts</th><th>Pages</th></tr></thead><tbody>");
            foreach (var v in report.Violations)
            {
                h.Append("<tr class=\"bad\"><td>").Append(E(v.Vendor)).Append(" <small>").Append(E(v.Source)).Append("</small></td><td>").Append(E(v.Purpose ?? ""))
                 .Append("</td><td>").Append(E(string.Join(", ", v.Modes.Select(ModeName)))).Append("</td><td>").Append(Codes(v.Cookies))
                 .Append("</td><td>").Append(Codes(v.Hosts)).Append("</td><td>").Append(Codes(v.Pages)).Append("</td></tr>");
            }
            h.Append("</tbody></table>");
        }

        h.Append("<h2>Undeclared</h2>");
        if (report.Undeclared.Count == 0) h.Append("<p class=\"ok\">None: the policy names every vendor seen.</p>");
        else
        {
            h.Append("<table><thead><tr><th>Vendor</th><th>Catalogue category</th><th>Suggested purpose</th><th>Cookies</th><th>Hosts</th></tr></thead><tbody>");
            foreach (var u in report.Undeclared)
            {
                h.Append("<tr class=\"warn\"><td>").Append(E(u.Vendor)).Append("</td><td>").Append(E(u.Category ?? "unknown")).Append("</td><td><code>")
                 .Append(E(u.SuggestedPurpose)).Append("</code></td><td>").Append(Codes(u.Cookies)).Append("</td><td>").Append(Codes(u.Hosts)).Append("</td></tr>");
            }
            h.Append("</tbody></table>");
            if (report.SuggestedPolicy is not null)
            {
                h.Append("<p>A policy with these vendors added is in the JSON report (<code>suggestedPolicy</code>): review it, then publish it with <code>POST /v1/sites/")
                 .Append(E(report.SiteId)).Append("/policies</code>.</p>");
            }
        }

        h.Append("<h2>Declared but never seen</h2>");
        if (report.DeclaredButUnseen.Count == 0) h.Append("<p class=\"ok\">None.</p>");
        else
        {
            h.Append("<table><thead><tr><th>Vendor</th><th>Purpose</th><th>Cookie patterns</th></tr></thead><tbody>");
            foreach (var d in report.DeclaredButUnseen)
            {
                h.Append("<tr><td>").Append(E(d.Vendor)).Append("</td><td><code>").Append(E(d.Purpose)).Append("</code></td><td>").Append(Codes(d.Cookies)).Append("</td></tr>");
            }
            h.Append("</tbody></table>");
        }

        h.Append("<h2>Pages</h2>");
        foreach (var page in report.Pages)
        {
            h.Append("<details open><summary><code>").Append(E(page)).Append("</code></summary><div class=\"visits\">");
            foreach (var visit in report.Visits.Where(v => v.Url == page))
            {
                h.Append("<div class=\"visit\"><h3>").Append(E(ModeName(visit.Mode))).Append("</h3>");
                if (visit.Error is { } e) h.Append("<p class=\"note\">").Append(E(e)).Append("</p>");
                h.Append("<h4>Cookies (").Append(visit.Cookies.Count).Append(")</h4><ul>");
                foreach (var c in visit.Cookies)
                {
                    h.Append("<li class=\"").Append(Css(c.Match, visit.Mode)).Append("\"><code>").Append(E(c.Name)).Append("</code> ").Append(E(c.Domain))
                     .Append(c.ThirdParty ? " <small>third party</small>" : "").Append(" — ").Append(E(c.Match.Vendor))
                     .Append(c.SetBy is { } by ? " <small>set by " + E(by) + "</small>" : "").Append("</li>");
                }
                h.Append("</ul><h4>Requests to other hosts (").Append(visit.Requests.Count).Append(")</h4><ul>");
                foreach (var r in visit.Requests)
                {
                    h.Append("<li class=\"").Append(r.Match.Source == "blocked" ? "info" : r.ThirdParty ? Css(r.Match, visit.Mode) : "").Append("\"><code>").Append(E(r.Url)).Append("</code> ")
                     .Append(E(r.Type)).Append(" — ").Append(E(r.Match.Vendor)).Append("</li>");
                }
                h.Append("</ul>");
                if (visit.LocalStorage.Count + visit.SessionStorage.Count > 0)
                {
                    h.Append("<h4>Storage</h4><p>").Append(Codes(visit.LocalStorage.Select(k => "localStorage." + k).Concat(visit.SessionStorage.Select(k => "sessionStorage." + k)))).Append("</p>");
                }
                if (visit.ConsentMode.Count > 0)
                {
                    h.Append("<h4>Consent Mode</h4><ul>");
                    foreach (var m in visit.ConsentMode) h.Append("<li><code>").Append(E(m)).Append("</code></li>");
                    h.Append("</ul>");
                }
                h.Append("</div>");
            }
            h.Append("</div></details>");
        }
        h.Append("<footer>Vendors named from the site's policy and the ").Append(E(report.Catalogue.Name)).Append(" (").Append(E(report.Catalogue.License))
         .Append(", version ").Append(E(report.Catalogue.Version)).Append(", ").Append(report.Catalogue.Entries).Append(" entries, ").Append(E(report.Catalogue.Source)).Append(").</footer>");
        h.Append("</main></body></html>");
        var policy = $"default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        return (h.ToString(), policy);
    }

    private static string Css(VendorMatch m, ScanMode mode) =>
        mode != ScanMode.Accepted && !m.Necessary && m.Source is "policy" or "catalogue" ? "bad" : m.Source is "policy" ? "" : "warn";

    private static string ModeName(ScanMode mode) => mode switch
    {
        ScanMode.NoDecision => "Before a decision",
        ScanMode.Rejected => "After Reject all",
        _ => "After Accept all",
    };

    private static string Card(string title, int count, string css, string text) =>
        $"<div class=\"card {(count == 0 ? "ok" : css)}\"><strong>{count}</strong><span>{E(title)}</span><small>{E(text)}</small></div>";

    private static string Codes(IEnumerable<string> values) => string.Join(" ", values.Select(v => "<code>" + E(v) + "</code>"));

    private static string E(string value) => WebUtility.HtmlEncode(value);

    private const string Style = """
        :root{color-scheme:light;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1c2430;background:#f5f7fa}
        main{max-width:1100px;margin:0 auto;padding:24px}
        h1{font-size:1.6rem;margin:0 0 4px}h2{margin-top:32px;border-bottom:1px solid #d8dee6;padding-bottom:4px}
        h3{margin:0 0 6px;font-size:1rem}h4{margin:10px 0 4px;font-size:.85rem;color:#556}
        .meta{color:#556;margin:0 0 16px}.note{background:#fff6db;border-left:4px solid #d4a106;padding:6px 10px}
        .cards{display:grid;grid-template-columns:repeat(3,1fr);gap:12px}
        .card{background:#fff;border-radius:8px;padding:14px;border-top:4px solid #8a96a6;display:flex;flex-direction:column}
        .card strong{font-size:2rem}.card small{color:#556}
        .card.bad{border-color:#c62828}.card.warn{border-color:#e08a00}.card.info{border-color:#1e63b5}.card.ok{border-color:#2e7d32}
        table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden}
        th,td{text-align:left;padding:8px;border-bottom:1px solid #e6eaf0;vertical-align:top}th{background:#eef1f5;font-size:.85rem}
        tr.bad td:first-child{border-left:4px solid #c62828}tr.warn td:first-child{border-left:4px solid #e08a00}
        code{font:12px/1.4 ui-monospace,monospace;background:#eef1f5;padding:1px 4px;border-radius:4px;word-break:break-all}
        small{color:#667}.ok{color:#2e7d32}
        details{background:#fff;border-radius:8px;margin:10px 0;padding:8px 12px}summary{cursor:pointer;font-weight:600}
        .visits{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-top:8px}
        .visit{border:1px solid #e6eaf0;border-radius:6px;padding:8px}.visit ul{margin:0;padding-left:18px}
        li.bad{color:#b71c1c}li.warn{color:#a35f00}li.info{color:#1e63b5}
        footer{margin-top:32px;color:#667;font-size:.8rem}
        @media (max-width:800px){.cards,.visits{grid-template-columns:1fr}}
        """;
}
