using ConsentService.Infrastructure;
using ConsentService.Scans.Catalogue;
using ConsentService.Sites;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ConsentService.Scans;

public static class ScanEndpoints
{
    public static WebApplicationBuilder AddScans(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ScanOptions>().BindConfiguration(ScanOptions.Section).ValidateDataAnnotations()
            .Validate(o => o.AllowedPrivateNetworks.All(n => System.Net.IPNetwork.TryParse(n, out _)), "Scan:AllowedPrivateNetworks holds CIDR networks such as 10.0.0.0/8.")
            .Validate(o => o.HostMap.Values.All(a => System.Net.IPAddress.TryParse(a, out _)), "Scan:HostMap maps host names to IP addresses.")
            .ValidateOnStart();
        builder.Services.AddSingleton(_ => CookieCatalogue.LoadEmbedded());
        builder.Services.AddSingleton<ScanJobs>();
        if (!OpenApiSetup.IsGeneratingDocument)
        {
            builder.Services.AddHostedService(sp => sp.GetRequiredService<ScanJobs>());
        }
        return builder;
    }

    public static IEndpointRouteBuilder MapScanEndpoints(this IEndpointRouteBuilder routes)
    {
        var scans = routes.MapGroup("/v1/sites/{siteId}/scans").WithTags("Scans");
        scans.MapPost("/", Start).WithName("StartScan")
            .WithSummary("Start a tracker scan of the site's pages: each page before a decision, after Reject all and after Accept all")
            .RequireSiteRole(SiteRole.Admin);
        scans.MapGet("/", List).WithName("ListScans").WithSummary("The site's scans, newest first (without reports)").RequireSiteRole(SiteRole.Admin);
        scans.MapGet("/{scanId}", Get).WithName("GetScan").WithSummary("A scan: its progress, and its report once it has one").RequireSiteRole(SiteRole.Admin);
        scans.MapGet("/{scanId}/report", Report).WithName("GetScanReport")
            .WithSummary("The scan's report as json, csv or html (a standalone page)").RequireSiteRole(SiteRole.Admin);
        scans.MapDelete("/{scanId}", Cancel).WithName("CancelScan").WithSummary("Cancel a queued or running scan").RequireSiteRole(SiteRole.Admin);
        scans.MapPost("/{scanId}/cancel", Cancel).WithName("CancelScanByPost").WithSummary("Cancel a queued or running scan").RequireSiteRole(SiteRole.Admin);
        return routes;
    }

    private static async Task<Results<Accepted<ScanSummary>, ValidationProblem, ProblemHttpResult>> Start(
        string siteId, StartScanRequest request, SiteDirectory sites, ScanJobs jobs, IOptions<ScanOptions> options, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is null) return Problems.SiteNotFound(siteId);
        var o = options.Value;
        var errors = new ValidationErrors();
        var guard = new AddressGuard(options);
        var urls = request.Urls ?? [];
        if ((request.Urls is null) == (request.StartUrl is null))
        {
            errors.Add("urls", "Give either urls (the pages to scan) or startUrl (with pageLimit, to follow same-site links), not both.");
        }
        if (request.Urls is not null)
        {
            if (urls.Count == 0) errors.Add("urls", "List at least one page.");
            if (urls.Count > o.MaxPages) errors.Add("urls", $"At most {o.MaxPages} pages per scan (Scan:MaxPages).");
            if (request.PageLimit is not null) errors.Add("pageLimit", "pageLimit goes with startUrl; with urls every listed page is scanned.");
            for (var i = 0; i < urls.Count && i < o.MaxPages; i++)
            {
                if (await UrlProblemAsync(urls[i], guard, ct) is { } problem) errors.Add($"urls[{i}]", problem);
            }
        }
        if (request.StartUrl is { } start && await UrlProblemAsync(start, guard, ct) is { } startProblem) errors.Add("startUrl", startProblem);
        if (request.PageLimit is { } limit && (limit < 1 || limit > o.MaxPages)) errors.Add("pageLimit", $"From 1 to {o.MaxPages} pages per scan (Scan:MaxPages).");
        if (!errors.IsEmpty) return errors.ToProblem();

        var scan = await jobs.StartAsync(siteId, [.. urls], request.StartUrl, request.StartUrl is null ? urls.Count : request.PageLimit ?? Math.Min(10, o.MaxPages), ct);
        return TypedResults.Accepted($"/v1/sites/{siteId}/scans/{scan.Id}", ScanSummary.From(scan));
    }

    private static async Task<string?> UrlProblemAsync(string value, AddressGuard guard, CancellationToken ct)
    {
        if (value.Length > 2048 || !Uri.TryCreate(value, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
        {
            return "Must be an absolute http(s) URL of at most 2048 characters.";
        }
        if (url.UserInfo.Length > 0) return "Must not carry a user name or password.";
        return await guard.RefusalAsync(url, ct);
    }

    private static async Task<Results<Ok<IReadOnlyList<ScanSummary>>, ProblemHttpResult>> List(
        string siteId, SiteDirectory sites, Storage.IConsentStore store, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is null) return Problems.SiteNotFound(siteId);
        var list = await store.ListScansAsync(siteId, 100, ct);
        return TypedResults.Ok<IReadOnlyList<ScanSummary>>([.. list.Select(ScanSummary.From)]);
    }

    private static async Task<Results<Ok<Scan>, ProblemHttpResult>> Get(string siteId, string scanId, Storage.IConsentStore store, CancellationToken ct) =>
        await store.GetScanAsync(siteId, scanId, ct) is { } scan ? TypedResults.Ok(scan) : ScanNotFound(siteId, scanId);

    private static async Task<Results<Ok<ScanReport>, ContentHttpResult, ValidationProblem, ProblemHttpResult>> Report(
        string siteId, string scanId, string? format, Storage.IConsentStore store, HttpContext http, CancellationToken ct)
    {
        format ??= "json";
        if (format is not ("json" or "csv" or "html")) return Problems.Validation("format", "One of json, csv, html.");
        if (await store.GetScanAsync(siteId, scanId, ct) is not { } scan) return ScanNotFound(siteId, scanId);
        if (scan.Report is not { } report)
        {
            return Problems.Status(StatusCodes.Status409Conflict, ProblemTypes.ScanNotReady, "The scan has no report yet.",
                $"Scan '{scanId}' is {Infrastructure.JsonDefaults.Name(scan.Status)} and has visited {scan.PagesDone} page(s); a report is written when it ends.");
        }
        switch (format)
        {
            case "csv":
                http.Response.Headers.ContentDisposition = $"attachment; filename=\"{scanId}.csv\"";
                return TypedResults.Content(ScanReportFormats.Csv(report), "text/csv; charset=utf-8");
            case "html":
                var (html, policy) = ScanReportFormats.Html(scan, report);
                http.Response.Headers.ContentSecurityPolicy = policy;
                return TypedResults.Content(html, "text/html; charset=utf-8");
            default:
                return TypedResults.Ok(report);
        }
    }

    private static async Task<Results<Accepted<ScanSummary>, ProblemHttpResult>> Cancel(string siteId, string scanId, ScanJobs jobs, CancellationToken ct) =>
        await jobs.CancelAsync(siteId, scanId, ct) is { } scan
            ? TypedResults.Accepted($"/v1/sites/{siteId}/scans/{scanId}", ScanSummary.From(scan))
            : ScanNotFound(siteId, scanId);

    private static ProblemHttpResult ScanNotFound(string siteId, string scanId) => Problems.NotFound($"Site '{siteId}' has no scan '{scanId}'.");
}
