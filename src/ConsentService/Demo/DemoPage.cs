using ConsentService.Infrastructure;
using Microsoft.Extensions.Options;

namespace ConsentService.Demo;

/// <summary>
/// <c>GET /</c>: a page that embeds the snippet of the demo site, so <c>dotnet run</c> shows the
/// banner and the gating at work. Only where the demo site is seeded (Development).
/// </summary>
public static class DemoPage
{
    private const string Resource = "ConsentService.Demo.demo.html";

    public static IEndpointRouteBuilder MapDemoPage(this IEndpointRouteBuilder routes)
    {
        var demo = routes.ServiceProvider.GetRequiredService<IOptions<DemoOptions>>().Value;
        if (!demo.Seed) return routes;
        // The site id is validated to [A-Za-z0-9_-] (DemoOptions), safe inside HTML and a URL path.
        var html = Load().Replace("{{siteId}}", demo.SiteId, StringComparison.Ordinal);
        routes.MapGet("/", () => TypedResults.Content(html, "text/html; charset=utf-8")).ExcludeFromDescription();
        return routes;
    }

    private static string Load()
    {
        using var stream = typeof(DemoPage).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"Embedded resource {Resource} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
