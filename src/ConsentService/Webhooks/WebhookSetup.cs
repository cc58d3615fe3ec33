using ConsentService.Infrastructure;
using ConsentService.Storage;

namespace ConsentService.Webhooks;

public static class WebhookSetup
{
    /// <summary>Webhook options, the store view (the consent store itself: the outbox shares its transactions), the sender and the worker.</summary>
    public static WebApplicationBuilder AddWebhooks(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => (IWebhookStore)sp.GetRequiredService<IConsentStore>());
        services.AddSingleton<WebhookSender>();
        if (!OpenApiSetup.IsGeneratingDocument && builder.Configuration.GetValue($"{WebhookOptions.Section}:{nameof(WebhookOptions.DeliveryEnabled)}", true))
        {
            services.AddHostedService<WebhookDispatcher>();
        }
        return builder;
    }
}
