using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;

namespace ConsentService.Snippet;

/// <summary>
/// The built snippet (client-snippet/, built with esbuild into <c>Snippet/consent.min.js</c> and
/// embedded in this assembly, so running the service needs no node) and its config.
/// </summary>
public static class SnippetScript
{
    /// <summary>The identifier in the built script that the config object replaces.</summary>
    public const string Placeholder = "__CONSENT_CONFIG__";

    private const string Resource = "ConsentService.Snippet.consent.min.js";

    /// <summary>
    /// Compact (no nulls) and safe anywhere a script can go: non-ASCII stays readable, but
    /// <c>&lt; &gt; &amp; '</c> are escaped so no policy text can close a <c>&lt;script&gt;</c> block.
    /// </summary>
    private static readonly JsonSerializerOptions InlineJson = new(JsonDefaults.Options)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.Create(UnicodeRanges.All),
    };

    private static readonly Lazy<(string Head, string Tail)> Parts = new(Load);

    /// <summary>
    /// Country headers set by common CDNs. <c>auto</c> resolves to <c>ccpa</c> for US visitors and
    /// to <c>gdpr</c> otherwise, including when no header says where the visitor is: GDPR's opt-in
    /// is the stricter rule, so it is the safe default.
    /// </summary>
    public static readonly string[] CountryHeaders = ["CF-IPCountry", "CloudFront-Viewer-Country"];

    /// <param name="api">The configured <c>PublicUrl</c>, or null: never the request's Host, which the client chooses.</param>
    public static SnippetConfig Config(Site site, IReadOnlyList<Policy> policies, HttpRequest request, string? api)
    {
        var current = policies[^1];
        return new SnippetConfig(
            site.Id,
            api,
            current.Version,
            policies.Where(p => p.Material).Select(p => p.Version).DefaultIfEmpty(current.Version).Max(),
            current.ContentHash,
            site.DefaultLocale,
            site.JurisdictionMode,
            Resolve(site.JurisdictionMode, request),
            site.ConsentMaxAgeDays,
            site.RefusalReaskDays,
            current.Content.PrivacyPolicyUrl,
            current.Content.Purposes.Select(p => new SnippetPurpose(
                p.Id,
                p.Required,
                p.Vendors is { Count: > 0 } vendors
                    ? vendors.Select(v => new SnippetVendor(v.Name, v.Cookies is { Count: > 0 } cookies ? cookies : null,
                        v.LocalStorage is { Count: > 0 } keys ? keys : null)).ToList()
                    : null)).ToList(),
            current.Content.Texts,
            site.CookieDomain);
    }

    public static JurisdictionMode Resolve(JurisdictionMode mode, HttpRequest request)
    {
        if (mode != JurisdictionMode.Auto) return mode;
        var country = CountryHeaders.Select(h => request.Headers[h].ToString()).FirstOrDefault(c => c.Length > 0);
        return string.Equals(country, "US", StringComparison.OrdinalIgnoreCase) ? JurisdictionMode.Ccpa : JurisdictionMode.Gdpr;
    }

    /// <summary>
    /// The script with <paramref name="config"/> inlined, less what only <c>/config</c>'s other readers
    /// use (the policy's content hash, the jurisdiction setting beside its resolved value) and the
    /// <c>required: false</c> the snippet reads as absent: about 80 of the 6,144 gzipped bytes.
    /// </summary>
    public static string Render(SnippetConfig config)
    {
        var inline = JsonSerializer.SerializeToNode(config, InlineJson)!.AsObject();
        inline.Remove("contentHash");
        inline.Remove("jurisdictionMode");
        foreach (var purpose in inline["purposes"]!.AsArray())
        {
            if (purpose!["required"]!.GetValue<bool>() is false) purpose.AsObject().Remove("required");
        }
        return Parts.Value.Head + inline.ToJsonString(InlineJson) + Parts.Value.Tail;
    }

    private static (string, string) Load()
    {
        using var stream = typeof(SnippetScript).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"Embedded resource {Resource} is missing: run 'npm run build' in client-snippet/.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var script = reader.ReadToEnd();
        var at = script.IndexOf(Placeholder, StringComparison.Ordinal);
        if (at < 0 || script.IndexOf(Placeholder, at + 1, StringComparison.Ordinal) >= 0)
        {
            throw new InvalidOperationException($"{Resource} must contain {Placeholder} exactly once.");
        }
        return (script[..at], script[(at + Placeholder.Length)..]);
    }
}
