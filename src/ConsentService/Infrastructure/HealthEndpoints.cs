using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Primitives;

namespace ConsentService.Infrastructure;

public static class HealthEndpoints
{
    /// <summary>
    /// <c>/health/live</c> runs no check, so its answer never changes: the same bytes every time, written
    /// without the health-check service, a report or a serializer (the orchestrator probes it often).
    /// </summary>
    private static readonly byte[] LiveBody = """{"status":"Healthy","checks":{}}"""u8.ToArray();

    private static readonly StringValues Json = "application/json";
    private static readonly StringValues NoStore = "no-store";
    private static readonly StringValues NoCache = "no-cache";
    private static readonly StringValues Expired = "Thu, 01 Jan 1970 00:00:00 GMT";

    /// <summary><c>/health/live</c>: the process answers. <c>/health/ready</c>: its dependencies answer too.</summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder routes)
    {
        // Probes are never rate limited (the limiter's partitions would only lock to say so) and take no input to validate.
        routes.Map("/health/live", WriteLive).DisableRateLimiting().DisableValidation();
        routes.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = Write })
            .DisableRateLimiting().DisableValidation();
        return routes;
    }

    private static Task WriteLive(HttpContext context)
    {
        var response = context.Response;
        var headers = response.Headers;
        headers.ContentType = Json;
        headers.CacheControl = NoStore;
        // As the health-check middleware answers /health/ready: no HTTP/1.0 cache keeps it either.
        headers.Pragma = NoCache;
        headers.Expires = Expired;
        headers.ContentLength = LiveBody.Length;
        return response.Body.WriteAsync(LiveBody, 0, LiveBody.Length, context.RequestAborted);
    }

    private static Task Write(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }, JsonDefaults.Options, context.RequestAborted);
    }
}
