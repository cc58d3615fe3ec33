using ConsentService.Audit;
using ConsentService.Caching;
using ConsentService.Consents;
using ConsentService.Demo;
using ConsentService.Identity;
using ConsentService.Infrastructure;
using ConsentService.Ledger;
using ConsentService.Policies;
using ConsentService.PrivacyConsole;
using ConsentService.Scans;
using ConsentService.Sites;
using ConsentService.Snippet;
using ConsentService.Stats;
using ConsentService.Storage;
using ConsentService.Subjects;
using ConsentService.Webhooks;
using Microsoft.Extensions.Options;

if (args is ["scan", .. var scanArgs])
{
    // The tracker scan from the command line (README "Scan your site"); Ctrl+C cancels it.
    using var interrupt = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; interrupt.Cancel(); };
    return await ScanCommand.RunAsync(scanArgs, Console.Out, Console.Error, interrupt.Token);
}

var builder = WebApplication.CreateBuilder(args);

builder.AddConsentApi();
builder.AddEdge();
builder.AddConsentStorage();
builder.AddConsentCache();
builder.AddConsentRateLimits();
if (!OpenApiSetup.IsGeneratingDocument)
{
    builder.Services.AddSingleton<IPostConfigureOptions<AdminOptions>, DevelopmentOperatorKey>();
    builder.Services.AddHostedService<StartupTasks>(); // first: the jobs below need the store ready
    builder.Services.AddSingleton<DemoHistory>();
}
builder.AddAuditLog();
builder.AddLedgerProofs();
builder.AddRetention();
builder.AddIdentifiedUsers();
builder.AddConsole();
builder.AddWebhooks();
builder.AddScans();

var app = builder.Build();

app.UseEdge(); // forwarded headers from configured proxies only, before anything reads the client address

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRoutingWithHead(); // HEAD wherever GET is mapped
app.UseSecurityHeaders();
app.UseKeyLookup(); // before the limiter: only a live key earns a key's budget
app.UseRateLimiter();
app.UseAuditLog(); // around UseKeyAuthorization, so the 403s and 404s it answers are recorded too
app.UseKeyAuthorization();
app.UseBodySizeLimits();

app.MapOpenApi();
// Only under /swagger: the UI's middleware matches every other request's path against regular expressions.
app.UseWhen(context => context.Request.Path.StartsWithSegments("/swagger", StringComparison.OrdinalIgnoreCase), swagger => swagger.UseSwaggerUI(o =>
{
    o.SwaggerEndpoint("/openapi/v1.json", "ConsentService v1");
    o.RoutePrefix = "swagger";
}));
app.MapHealthEndpoints();
app.MapSiteEndpoints();
app.MapPolicyEndpoints();
app.MapConsentEndpoints();
app.MapConsentQueryEndpoints();
app.MapSubjectEndpoints();
app.MapLedgerEndpoints();
app.MapStatsEndpoints();
app.MapSnippetEndpoints();
app.MapDemoPage();
app.MapAuditEndpoints();
app.MapIdentityEndpoints();
app.MapConsole();
app.MapWebhookEndpoints();
app.MapScanEndpoints();

return app.RunOrExplainStartupFailure();

/// <summary>Visible to <c>WebApplicationFactory&lt;Program&gt;</c> in the tests.</summary>
public partial class Program;
