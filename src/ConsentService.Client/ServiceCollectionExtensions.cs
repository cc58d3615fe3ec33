using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ConsentService.Client;

public static class ConsentServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ConsentServiceClient"/>, <see cref="ReceiptVerifier"/> and the JWK set cache with one named
    /// HttpClient to the service (the returned builder configures it: handlers, resilience, a proxy).
    /// </summary>
    public static IHttpClientBuilder AddConsentServiceClient(this IServiceCollection services, Action<ConsentServiceOptions> configure)
    {
        services.AddOptions<ConsentServiceOptions>().Configure(configure)
            .Validate(o => o.BaseAddress is { IsAbsoluteUri: true }, "ConsentServiceOptions.BaseAddress must be an absolute URL.");
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new SigningKeyCache(Http(sp), sp.GetRequiredService<IOptions<ConsentServiceOptions>>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ReceiptVerifier>();
        services.TryAddTransient(sp => new ConsentServiceClient(Http(sp)));
        return services.AddHttpClient(HttpClientName, (sp, http) =>
        {
            var options = sp.GetRequiredService<IOptions<ConsentServiceOptions>>().Value;
            var address = options.BaseAddress!.ToString();
            http.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/"); // relative paths keep a path base
            if (options.ApiKey is { Length: > 0 } key)
            {
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            }
        });

        static HttpClient Http(IServiceProvider sp) => sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
    }

    public const string HttpClientName = "ConsentService";
}
