using System.Net;
using System.Text;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using StandardWebhooks;

namespace ConsentService.Webhooks;

/// <summary>What one delivery attempt came to.</summary>
public sealed record SendResult(bool Delivered, int? StatusCode, string? Error);

/// <summary>
/// Signs (Standard Webhooks, with the maintained <c>StandardWebhooks</c> package) and posts one message: no
/// redirects, no proxy, every connection checked by <see cref="WebhookAddresses"/>, and a Polly pipeline
/// (Microsoft.Extensions.Http.Resilience) with a per-attempt timeout and a few quick retries, exponential with
/// jitter. The pipeline runs on the system clock: it measures network time; the durable schedule between
/// attempts is the dispatcher's, on the app's clock.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _client;
    private readonly TimeProvider _time;

    public WebhookSender(IOptions<WebhookOptions> options, TimeProvider time)
    {
        var o = options.Value;
        _time = time;
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = TimeProvider.System }
            .AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(o.QuickRetries, 1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.QuickRetryDelay,
                // A refused address stays refused: asking again would only knock on the same door.
                ShouldHandle = args => o.QuickRetries == 0 || args.Outcome.Exception is HttpRequestException { InnerException: WebhookAddressRefusedException }
                    ? PredicateResult.False()
                    : HttpClientResiliencePredicates.IsTransient(args.Outcome) ? PredicateResult.True() : PredicateResult.False(),
            })
            .AddTimeout(o.AttemptTimeout)
            .Build();
        var allowPrivate = o.AllowPrivateNetworks;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // a 3xx is a failure: a redirect could lead anywhere, past the address check
            UseProxy = false, // the check must see the receiver's address, not a proxy's
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2), // names are resolved (and checked) again now and then
            ConnectCallback = (context, ct) => WebhookAddresses.ConnectAsync(context, allowPrivate, ct),
        };
        _client = new HttpClient(new ResilienceHandler(pipeline) { InnerHandler = handler }) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("ConsentService-Webhooks/1");
    }

    /// <summary>The <c>webhook-*</c> headers for <paramref name="payload"/>, signed now.</summary>
    public static IReadOnlyList<(string Name, string Value)> Headers(string secret, string messageId, DateTimeOffset now, string payload) =>
    [
        ("webhook-id", messageId),
        ("webhook-timestamp", now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("webhook-signature", new StandardWebhook(secret).Sign(messageId, now, payload)),
    ];

    public async Task<SendResult> SendAsync(LeasedDelivery delivery, CancellationToken ct)
    {
        if (delivery.Payload is null) return new SendResult(false, null, "The payload was destroyed after an erasure.");
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
        {
            Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
        };
        foreach (var (name, value) in Headers(delivery.Secret, delivery.MessageId, _time.GetUtcNow(), delivery.Payload))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var code = (int)response.StatusCode;
            return response.IsSuccessStatusCode
                ? new SendResult(true, code, null)
                : new SendResult(false, code, $"The endpoint answered {code} {response.ReasonPhrase}.");
        }
        catch (HttpRequestException e) when (e.InnerException is WebhookAddressRefusedException refused)
        {
            return new SendResult(false, null, $"Refused: {refused.Message}");
        }
        catch (HttpRequestException e)
        {
            return new SendResult(false, null, $"The connection failed: {e.Message}");
        }
        catch (TimeoutRejectedException)
        {
            return new SendResult(false, null, "The endpoint did not answer in time.");
        }
    }

    public void Dispose() => _client.Dispose();
}
