// A receiver for ConsentService webhooks in ASP.NET Core: verifies the Standard Webhooks signature with the
// StandardWebhooks package (dotnet add package StandardWebhooks), then hands the event to your code.
// Compiled and called by the test suite (tests/ConsentService.Tests/Webhooks/RecipeTests.cs).
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace ConsentRecipes;

/// <summary>One event: <c>consent.recorded</c>, <c>subject.erased</c> or <c>policy.published</c>.</summary>
public sealed record ConsentWebhook(string Id, string Type, DateTimeOffset Timestamp, JsonElement Data)
{
    public string? SubjectId => Data.TryGetProperty("subjectId", out var id) ? id.GetString() : null;

    /// <summary>Whether the decision grants <paramref name="purpose"/> (false when refused, withdrawn or absent).</summary>
    public bool Grants(string purpose) =>
        Data.TryGetProperty("purposes", out var purposes) && purposes.TryGetProperty(purpose, out var granted) && granted.GetBoolean();
}

public static class ConsentWebhookEndpoints
{
    /// <summary>
    /// Maps a POST endpoint that answers 401 to anything not signed with <paramref name="secret"/> (the whsec_…
    /// shown once at registration) or older than five minutes, and 204 once <paramref name="handle"/> is done.
    /// Delivery is at least once: the same event may come twice with the same <see cref="ConsentWebhook.Id"/>.
    /// </summary>
    public static RouteHandlerBuilder MapConsentWebhook(
        this IEndpointRouteBuilder routes, string pattern, string secret, Func<ConsentWebhook, CancellationToken, Task> handle)
    {
        var webhook = new StandardWebhook(secret);
        return routes.MapPost(pattern, async (HttpRequest request, CancellationToken ct) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync(ct);
            try
            {
                webhook.Verify(body, request.Headers); // the exact bytes received: parse only after this
            }
            catch (WebhookVerificationException)
            {
                return Results.Unauthorized();
            }
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            await handle(new ConsentWebhook(request.Headers["webhook-id"].ToString(), root.GetProperty("type").GetString()!,
                root.GetProperty("timestamp").GetDateTimeOffset(), root.GetProperty("data").Clone()), ct);
            return Results.NoContent();
        });
    }
}
