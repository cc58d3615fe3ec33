using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace ConsentService.Demo;

/// <summary>
/// Prepares the store before the first request, seeds the demo site when configured, and tells a
/// new user where everything is once the server listens.
/// </summary>
public sealed class StartupTasks(
    IConsentStore store,
    SiteDirectory sites,
    PolicyCatalog policies,
    DemoHistory history,
    IOptions<DemoOptions> demo,
    IOptions<AdminOptions> admin,
    IServer server,
    IHostApplicationLifetime lifetime,
    IHostEnvironment environment,
    ILogger<StartupTasks> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        if (demo.Value.Seed && demo.Value.SeedHistory && await sites.GetAsync(demo.Value.SiteId, cancellationToken) is null)
        {
            await history.SeedAsync(demo.Value.SiteId, cancellationToken);
            // Once every hosted service has started: the signing key registers after this one.
            lifetime.ApplicationStarted.Register(() => _ = history.SealAsync(demo.Value.SiteId, lifetime.ApplicationStopping));
        }
        else if (demo.Value.Seed && await sites.GetAsync(demo.Value.SiteId, cancellationToken) is null)
        {
            var site = await sites.CreateAsync(new CreateSiteRequest("Demo site", JurisdictionMode: JurisdictionMode.Auto), [], demo.Value.SiteId, cancellationToken);
            await policies.PublishAsync(site.Id, DefaultPolicy.Content, material: true, cancellationToken);
            logger.LogInformation("Seeded demo site '{SiteId}' with the default policy", site.Id);
        }
        if (string.IsNullOrEmpty(admin.Value.ApiKey))
        {
            logger.LogWarning("Admin:ApiKey is not set: no site can be created through the API");
        }
        lifetime.ApplicationStarted.Register(Announce);
    }

    private void Announce()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null) return;
        logger.LogInformation(
            "ConsentService is listening on {Address}\n  API docs:     {Address}/swagger\n  OpenAPI:      {Address}/openapi/v1.json{Demo}{Operator}",
            address, address, address,
            demo.Value.Seed ? $"\n  Demo page:    {address}/\n  Demo site id: {demo.Value.SiteId}" : "",
            environment.IsDevelopment() && admin.Value.ApiKey is { Length: > 0 } key ? $"\n  Operator key: {key}" : "");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
