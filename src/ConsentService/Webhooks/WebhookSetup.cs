using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Webhooks;

public static class WebhookSetup
{
    /// <summary>
    /// Webhook options, the sender and the worker. The store is the consent store itself (the outbox shares its
    /// transactions); it is not registered again as <see cref="IWebhookStore"/>: the container would dispose it
    /// twice, and an instance sharing another's store (tests) would close it under the owner.
    /// </summary>
    public static WebApplicationBuilder AddWebhooks(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<WebhookSender>();
        if (!OpenApiSetup.IsGeneratingDocument && builder.Configuration.GetValue($"{WebhookOptions.Section}:{nameof(WebhookOptions.DeliveryEnabled)}", true))
        {
            services.AddHostedService<WebhookDispatcher>();
        }
        return builder;
    }
}
