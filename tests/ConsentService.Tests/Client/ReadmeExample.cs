using ConsentService.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ConsentService.Tests.Client;

/// <summary>
/// The README's "Checking consent in your back end" example, compiled and run by <see cref="ConsentClientTests"/>: the
/// text between the markers is what both READMEs show (a test compares them).
/// </summary>
public static class ReadmeExample
{
    public static WebApplication Build(WebApplicationBuilder builder, Uri consentService, string siteId)
    {
        // README:begin
        builder.Services.AddConsentServiceClient(options =>
        {
            options.BaseAddress = consentService; // e.g. new Uri("https://consent.example.com/")
            options.SiteId = siteId;              // the site whose receipts count
        });
        var app = builder.Build();

        // Runs only for a request whose receipt (Consent-Receipt header) grants analytics; otherwise 403 problem details.
        app.MapPost("/api/recommendations", (HttpContext http) =>
        {
            var consent = http.GetVerifiedConsent()!;
            return Results.Ok(new { personalised = true, decidedAt = consent.RecordedAt, record = consent.RecordId });
        }).RequireConsent("analytics");
        // README:end
        return app;
    }
}
