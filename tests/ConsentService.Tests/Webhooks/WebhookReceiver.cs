using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ConsentService.Tests.Webhooks;

/// <summary>One request a receiver got: its webhook headers and the body exactly as sent.</summary>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body)
{
    public JsonObject Json => JsonNode.Parse(Body)!.AsObject();
    public string Type => Json["type"]!.GetValue<string>();
    public JsonObject Data => Json["data"]!.AsObject();
}

/// <summary>
/// A real HTTP receiver on 127.0.0.1 (Kestrel, port 0). <see cref="Answer"/> decides each response's status from
/// the request (default 200); every request is kept, answered or not.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    public ConcurrentQueue<ReceivedWebhook> Requests { get; } = new();
    /// <summary>The status to answer with; settable while the test runs.</summary>
    public Func<ReceivedWebhook, int> Answer { get; set; } = _ => 200;
    public ConcurrentQueue<ReceivedWebhook> Accepted { get; } = new();
    /// <summary>When set, every request is answered 307 to this URL (a redirect must not be followed).</summary>
    public string? RedirectTo { get; set; }
    /// <summary>While set, requests wait for it and are then answered 503: deliveries held in flight.</summary>
    public TaskCompletionSource? Hold { get; set; }

    private WebhookReceiver(WebApplication app) => _app = app;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var received = new ReceivedWebhook(context.Request.Headers["webhook-id"].ToString(), context.Request.Headers["webhook-timestamp"].ToString(),
                context.Request.Headers["webhook-signature"].ToString(), await reader.ReadToEndAsync());
            receiver.Requests.Enqueue(received);
            if (receiver.Hold is { } hold)
            {
                await hold.Task;
                context.Response.StatusCode = 503;
                return;
            }
            if (receiver.RedirectTo is { } target)
            {
                context.Response.StatusCode = 307;
                context.Response.Headers.Location = target;
                return;
            }
            var status = receiver.Answer(received);
            if (status is >= 200 and < 300) receiver.Accepted.Enqueue(received);
            context.Response.StatusCode = status;
        });
        await app.StartAsync();
        return receiver;
    }

    public int Port => new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;

    public string Url => $"http://127.0.0.1:{Port}/hooks";

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds on what was received.</summary>
    public async Task WaitForAsync(Func<WebhookReceiver, bool> condition, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition(this))
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}; received {Requests.Count}, accepted {Accepted.Count}: {string.Join(" | ", Requests.Take(5).Select(r => r.Body))}");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
