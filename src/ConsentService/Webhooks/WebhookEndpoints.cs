using System.Net;
using System.Security.Cryptography;
using ConsentService.Infrastructure;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ConsentService.Webhooks;

public static class WebhookEndpoints
{
    private const int RecentDeliveries = 20;
    private const int MaxEndpointsPerSite = 20;

    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder routes)
    {
        var webhooks = routes.MapGroup("/v1/sites/{siteId}/webhooks").WithTags("Webhooks").RequireSiteRole(SiteRole.Admin);
        webhooks.MapPost("/", Create).WithName("CreateWebhook").WithSummary("Register an endpoint; its signing secret is shown only in this response");
        webhooks.MapGet("/", List).WithName("ListWebhooks").WithSummary("List the site's endpoints (never their secrets)");
        webhooks.MapGet("/{endpointId}", Get).WithName("GetWebhook").WithSummary("An endpoint, its status (and why disabled) and its recent deliveries");
        webhooks.MapPatch("/{endpointId}", Update).WithName("UpdateWebhook").WithSummary("Change url, events or description; enable or disable");
        webhooks.MapDelete("/{endpointId}", Delete).WithName("DeleteWebhook").WithSummary("Delete an endpoint and its queued deliveries");
        webhooks.MapPost("/{endpointId}/rotate-secret", Rotate).WithName("RotateWebhookSecret").WithSummary("Replace the signing secret; the new one is shown only in this response");
        webhooks.MapPost("/{endpointId}/messages/{messageId}/redeliver", Redeliver).WithName("RedeliverWebhookMessage").WithSummary("Send one message to the endpoint again, with the same webhook-id");
        webhooks.MapPost("/{endpointId}/recover", Recover).WithName("RecoverWebhooks").WithSummary("Send again every failed delivery of messages created since a time");
        return routes;
    }

    private static async Task<Results<Created<WebhookEndpointCreated>, ValidationProblem, ProblemHttpResult>> Create(
        string siteId, CreateWebhookRequest request, IConsentStore store, SiteDirectory sites, IOptions<WebhookOptions> options,
        IWebHostEnvironment environment, TimeProvider time, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is null) return Problems.SiteNotFound(siteId);
        var errors = new ValidationErrors();
        var url = CheckUrl(request.Url, options.Value, environment, errors);
        var events = CheckEvents(request.Events, errors) ?? WebhookEvents.All;
        CheckDescription(request.Description, errors);
        if (errors.IsEmpty && (await store.ListWebhookEndpointsAsync(siteId, ct)).Count >= MaxEndpointsPerSite)
        {
            errors.Add("url", $"A site has at most {MaxEndpointsPerSite} endpoints; delete one first.");
        }
        if (!errors.IsEmpty) return errors.ToProblem();

        var endpoint = new WebhookEndpoint("ep_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), siteId, url!, events,
            request.Description, NewSecret(), time.Now());
        await store.AddWebhookEndpointAsync(endpoint, ct);
        return TypedResults.Created($"/v1/sites/{siteId}/webhooks/{endpoint.Id}", new WebhookEndpointCreated(WebhookEndpointView.From(endpoint), endpoint.Secret));
    }

    private static async Task<Results<Ok<IReadOnlyList<WebhookEndpointView>>, ProblemHttpResult>> List(
        string siteId, IConsentStore store, SiteDirectory sites, CancellationToken ct)
    {
        if (await sites.GetAsync(siteId, ct) is null) return Problems.SiteNotFound(siteId);
        return TypedResults.Ok<IReadOnlyList<WebhookEndpointView>>([.. (await store.ListWebhookEndpointsAsync(siteId, ct)).Select(e => WebhookEndpointView.From(e))]);
    }

    private static async Task<Results<Ok<WebhookEndpointView>, ProblemHttpResult>> Get(
        string siteId, string endpointId, IConsentStore store, CancellationToken ct)
    {
        if (await store.GetWebhookEndpointAsync(siteId, endpointId, ct) is not { } endpoint) return NotFound(endpointId);
        return TypedResults.Ok(WebhookEndpointView.From(endpoint, await store.ListWebhookDeliveriesAsync(siteId, endpointId, RecentDeliveries, ct)));
    }

    private static async Task<Results<Ok<WebhookEndpointView>, ValidationProblem, ProblemHttpResult>> Update(
        string siteId, string endpointId, UpdateWebhookRequest patch, IConsentStore store, IOptions<WebhookOptions> options,
        IWebHostEnvironment environment, TimeProvider time, CancellationToken ct)
    {
        if (await store.GetWebhookEndpointAsync(siteId, endpointId, ct) is not { } endpoint) return NotFound(endpointId);
        var errors = new ValidationErrors();
        var url = patch.Url is null ? endpoint.Url : CheckUrl(patch.Url, options.Value, environment, errors);
        var events = patch.Events is null ? endpoint.Events : CheckEvents(patch.Events, errors) ?? WebhookEvents.All;
        CheckDescription(patch.Description, errors);
        if (!errors.IsEmpty) return errors.ToProblem();

        var updated = endpoint with { Url = url!, Events = events, Description = patch.Description ?? endpoint.Description };
        updated = patch.Enabled switch
        {
            true => updated with { DisabledAt = null, DisabledReason = null, FailingSince = null },
            false when endpoint.DisabledAt is null => updated with { DisabledAt = time.Now(), DisabledReason = "Disabled by an admin." },
            _ => updated,
        };
        if (!await store.UpdateWebhookEndpointAsync(updated, ct)) return NotFound(endpointId);
        return TypedResults.Ok(WebhookEndpointView.From(updated));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string siteId, string endpointId, IConsentStore store, CancellationToken ct) =>
        await store.DeleteWebhookEndpointAsync(siteId, endpointId, ct) ? TypedResults.NoContent() : NotFound(endpointId);

    private static async Task<Results<Ok<WebhookEndpointCreated>, ProblemHttpResult>> Rotate(
        string siteId, string endpointId, IConsentStore store, CancellationToken ct)
    {
        if (await store.GetWebhookEndpointAsync(siteId, endpointId, ct) is not { } endpoint) return NotFound(endpointId);
        var rotated = endpoint with { Secret = NewSecret() };
        if (!await store.UpdateWebhookEndpointAsync(rotated, ct)) return NotFound(endpointId);
        return TypedResults.Ok(new WebhookEndpointCreated(WebhookEndpointView.From(rotated), rotated.Secret));
    }

    private static async Task<Results<Accepted<RedeliveryAccepted>, ProblemHttpResult>> Redeliver(
        string siteId, string endpointId, string messageId, IConsentStore store, TimeProvider time, CancellationToken ct)
    {
        if (await store.GetWebhookEndpointAsync(siteId, endpointId, ct) is null) return NotFound(endpointId);
        return await store.RedeliverWebhookMessageAsync(siteId, endpointId, messageId, time.Now(), ct)
            ? TypedResults.Accepted((string?)null, new RedeliveryAccepted(1))
            : Problems.NotFound($"Endpoint '{endpointId}' has no message '{messageId}' that can be sent again (an erased subject's messages are gone).");
    }

    private static async Task<Results<Accepted<RedeliveryAccepted>, ValidationProblem, ProblemHttpResult>> Recover(
        string siteId, string endpointId, RecoverWebhooksRequest request, IConsentStore store, TimeProvider time, CancellationToken ct)
    {
        if (request.Since is not { } since) return Problems.Validation("since", "The time from which failed deliveries are sent again is required.");
        if (await store.GetWebhookEndpointAsync(siteId, endpointId, ct) is null) return NotFound(endpointId);
        var count = await store.RedeliverFailedWebhooksAsync(siteId, endpointId, since, time.Now(), ct);
        return TypedResults.Accepted((string?)null, new RedeliveryAccepted(count));
    }

    private static ProblemHttpResult NotFound(string endpointId) => Problems.NotFound($"Webhook endpoint '{endpointId}' was not found.");

    /// <summary>The Standard Webhooks secret format: <c>whsec_</c> and base64 of 32 random bytes.</summary>
    private static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static string? CheckUrl(string? value, WebhookOptions options, IWebHostEnvironment environment, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 2048 || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp) || string.IsNullOrEmpty(uri.Host))
        {
            errors.Add("url", "An absolute http(s) URL of at most 2048 characters is required.");
            return null;
        }
        if (uri.Scheme != Uri.UriSchemeHttps && (options.RequireHttps ?? !environment.IsDevelopment()))
        {
            errors.Add("url", "The URL must use https.");
        }
        if (!string.IsNullOrEmpty(uri.UserInfo)) errors.Add("url", "The URL may not carry credentials; the signature authenticates the sender.");
        if (!string.IsNullOrEmpty(uri.Fragment)) errors.Add("url", "The URL may not have a fragment.");
        if (!options.AllowPrivateNetworks)
        {
            var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
            if ((IPAddress.TryParse(host, out var address) && !PublicAddresses.IsPublic(address)) || WebhookAddresses.IsLocalName(host))
            {
                errors.Add("url", $"'{uri.Host}' is not a public address: webhooks are not sent into private networks.");
            }
        }
        return uri.AbsoluteUri;
    }

    private static List<string>? CheckEvents(IReadOnlyList<string>? events, ValidationErrors errors)
    {
        if (events is null || events.Count == 0) return null;
        for (var i = 0; i < events.Count; i++)
        {
            if (!WebhookEvents.All.Contains(events[i]))
            {
                errors.Add($"events[{i}]", $"Unknown event type; one of {string.Join(", ", WebhookEvents.All)}.");
            }
        }
        return [.. events.Distinct(StringComparer.Ordinal)];
    }

    private static void CheckDescription(string? description, ValidationErrors errors)
    {
        if (description is { Length: > 200 }) errors.Add("description", "At most 200 characters.");
    }
}
