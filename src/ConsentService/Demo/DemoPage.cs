using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ConsentService.Infrastructure;
using Microsoft.Extensions.Options;

namespace ConsentService.Demo;

/// <summary>
/// <c>GET /</c>: a page that embeds the snippet of the demo site, so <c>dotnet run</c> shows the
/// banner and the gating at work. Only where the demo site is seeded (Development).
/// </summary>
public static partial class DemoPage
{
    private const string Resource = "ConsentService.Demo.demo.html";

    public static IEndpointRouteBuilder MapDemoPage(this IEndpointRouteBuilder routes)
    {
        var demo = routes.ServiceProvider.GetRequiredService<IOptions<DemoOptions>>().Value;
        if (!demo.Seed) return routes;
        // The site id is validated to [A-Za-z0-9_-] (DemoOptions), safe inside HTML and a URL path.
        var html = Load().Replace("{{siteId}}", demo.SiteId, StringComparison.Ordinal);
        var policy = ContentSecurityPolicy(html);
        routes.MapGet("/", (HttpContext http) =>
        {
            http.Response.Headers.ContentSecurityPolicy = policy;
            return TypedResults.Content(html, "text/html; charset=utf-8");
        }).ExcludeFromDescription();
        return routes;
    }

    /// <summary>
    /// Scripts: this origin (the snippet) and the page's own inline scripts by hash, the gated one
    /// included (the snippet runs it as a copy with the same text). Styles: inline allowed, because
    /// the snippet injects its banner CSS as a &lt;style&gt; element, as it does on customers' pages;
    /// a style cannot run code and this page reflects no input. Posts go back to this origin only.
    /// </summary>
    public static string ContentSecurityPolicy(string html)
    {
        var hashes = InlineScript().Matches(html)
            // The HTML parser turns CRLF into LF before the browser hashes the text.
            .Select(m => $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(m.Groups["text"].Value.ReplaceLineEndings("\n"))))}'");
        return $"default-src 'none'; script-src 'self' {string.Join(' ', hashes)}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }

    [GeneratedRegex("<script(?![^>]*\\bsrc=)[^>]*>(?<text>.*?)</script>", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();

    private static string Load()
    {
        using var stream = typeof(DemoPage).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"Embedded resource {Resource} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
