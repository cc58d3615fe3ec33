using ConsentService.Snippet;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;

namespace ConsentService.PrivacyConsole;

/// <summary>
/// <c>GET /console</c> and <c>/console/*</c>: the embedded console. A path without a file extension that
/// names no file is one of the console's own routes (client-side routing) and gets index.html; a missing
/// file with an extension is a 404, so a broken asset reference shows as an error, not as HTML.
/// </summary>
public static class ConsoleEndpoints
{
    /// <summary>
    /// No inline script or style at all (the console's build emits files); API calls to this origin only;
    /// it may not be framed (clickjacking of the erasure button) and forms post back here only.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly StringValues Policy = ContentSecurityPolicy;

    /// <summary>Revalidated on every load (a 304 by ETag is cheap): a new release shows at once, whatever the file names.</summary>
    private static readonly StringValues Revalidate = "no-cache";

    private static readonly StringValues VaryEncoding = "Accept-Encoding";

    public static IEndpointRouteBuilder MapConsolePages(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/console", (HttpContext http, ConsoleAssets assets) => Serve(http, assets, ""))
            .ExcludeFromDescription();
        routes.MapGet("/console/{**path}", (string? path, HttpContext http, ConsoleAssets assets) => Serve(http, assets, path ?? ""))
            .ExcludeFromDescription();
        return routes;
    }

    private static Results<PrecompressedResult, ProblemHttpResult> Serve(HttpContext http, ConsoleAssets assets, string path)
    {
        var file = path.Length == 0 ? null : assets.Find(path);
        if (file is null)
        {
            // The API under /console/api is routed on its own; an unknown API path is never the page.
            if (path.StartsWith("api/", StringComparison.Ordinal) || path == "api" || Path.HasExtension(path))
            {
                return Infrastructure.Problems.NotFound($"The console has no file '/console/{path}'.");
            }
            file = assets.Find(ConsoleAssets.IndexFile);
            if (file is null) return Infrastructure.Problems.NotFound("The console is not built into this service.");
        }
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = Policy;
        headers.CacheControl = Revalidate;
        headers.Vary = VaryEncoding;
        return new PrecompressedResult(file);
    }
}
