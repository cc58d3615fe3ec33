using ConsentService.Audit;
using ConsentService.Caching;
using ConsentService.Consents;
using ConsentService.Demo;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);

builder.AddConsentApi();
builder.AddConsentStorage();
builder.AddConsentCache();
builder.AddAuditLog();
if (!OpenApiSetup.IsGeneratingDocument)
{
    builder.Services.AddSingleton<IPostConfigureOptions<AdminOptions>, DevelopmentOperatorKey>();
    builder.Services.AddHostedService<StartupTasks>();
}

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuditLog(); // around UseKeyAuthorization, so the 403s and 404s it answers are recorded too
app.UseKeyAuthorization();
app.UseBodySizeLimits();

app.MapOpenApi();
app.UseSwaggerUI(o =>
{
    o.SwaggerEndpoint("/openapi/v1.json", "ConsentService v1");
    o.RoutePrefix = "swagger";
});
app.MapHealthEndpoints();
app.MapSiteEndpoints();
app.MapPolicyEndpoints();
app.MapConsentEndpoints();
app.MapAuditEndpoints();

app.Run();

/// <summary>Visible to <c>WebApplicationFactory&lt;Program&gt;</c> in the tests.</summary>
public partial class Program;
