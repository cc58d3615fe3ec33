using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentService.Infrastructure;

/// <summary>One token bucket: <see cref="PermitLimit"/> requests at once, refilled at that many per <see cref="Window"/>.</summary>
public sealed class RateLimit
{
    public int PermitLimit { get; set; }

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    public RateLimit()
    {
    }

    public RateLimit(int permitLimit) => PermitLimit = permitLimit;

    /// <summary>
    /// Refilled in small steps (about 60 per window) rather than all at once at the window's end,
    /// so a client that used its burst gets a trickle back instead of waiting the whole window.
    /// </summary>
    public TokenBucketRateLimiterOptions Bucket()
    {
        var tokensPerPeriod = Math.Max(1, PermitLimit / 60);
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = PermitLimit,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = Window * tokensPerPeriod / PermitLimit,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }
}

/// <summary>Configuration section <c>RateLimits</c>: how much traffic one client may send.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Off only where something in front of the service limits already (or for a benchmark of the bare service).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Anonymous reads (consent.js, config, policies) per site and client address.</summary>
    public RateLimit PublicReads { get; set; } = new(600);

    /// <summary>Anonymous <c>POST …/consents</c> per site and client address: a visitor decides a few times a year.</summary>
    public RateLimit PublicWrites { get; set; } = new(120);

    /// <summary>All anonymous requests of one client address, whatever the site: random site ids get no fresh bucket each.</summary>
    public RateLimit PerClient { get; set; } = new(3000);

    /// <summary>Consent checks per key: a back end checks on every page view, so this is high.</summary>
    public RateLimit Checks { get; set; } = new(60000);

    /// <summary>Every other request with a key, per key.</summary>
    public RateLimit Keys { get; set; } = new(1200);

    public IEnumerable<(string Name, RateLimit Limit)> All() =>
        [(nameof(PublicReads), PublicReads), (nameof(PublicWrites), PublicWrites), (nameof(PerClient), PerClient), (nameof(Checks), Checks), (nameof(Keys), Keys)];
}

public sealed class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        var failures = options.All()
            .SelectMany(l => new[]
            {
                l.Limit.PermitLimit is < 1 or > 100_000_000 ? $"{RateLimitOptions.Section}:{l.Name}:PermitLimit must be between 1 and 100000000." : null,
                l.Limit.Window < TimeSpan.FromSeconds(1) || l.Limit.Window > TimeSpan.FromDays(1) ? $"{RateLimitOptions.Section}:{l.Name}:Window must be between 00:00:01 and 1.00:00:00." : null,
            })
            .OfType<string>()
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// ASP.NET Core's rate limiter, one global limiter that sorts each request by its endpoint: anonymous
/// requests are counted per site and client address (and per address overall), requests with a key per
/// key (by its SHA-256, never the key itself), health probes not at all. A refused request never
/// reaches an endpoint, so it writes nothing.
/// </summary>
public static class RateLimits
{
    public static WebApplicationBuilder AddConsentRateLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((o, limits) =>
        {
            var config = limits.Value;
            if (!config.Enabled) return;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(context => ByRequest(context, config)),
                PartitionedRateLimiter.Create<HttpContext, string>(context => ByClient(context, config)));
            o.OnRejected = Reject;
        });
        return builder;
    }

    private static RateLimitPartition<string> ByRequest(HttpContext context, RateLimitOptions config)
    {
        if (IsExempt(context)) return RateLimitPartition.GetNoLimiter("exempt");
        if (ValidKey(context) is { } presented)
        {
            // The key's id (or "operator") names the bucket: never the key itself, and no hash of it computed on
            // every request. A check key spends its own, larger budget on checks.
            var checks = context.GetEndpoint()?.Metadata.GetMetadata<SecuredEndpoint>() is { Role: Sites.SiteRole.Check };
            return checks
                ? RateLimitPartition.GetTokenBucketLimiter(presented.CheckPartition, _ => config.Checks.Bucket())
                : RateLimitPartition.GetTokenBucketLimiter(presented.KeyPartition, _ => config.Keys.Bucket());
        }
        var site = context.Request.RouteValues["siteId"] as string ?? "";
        var writes = HttpMethods.IsPost(context.Request.Method);
        var anonymous = writes ? config.PublicWrites : config.PublicReads;
        return RateLimitPartition.GetTokenBucketLimiter($"{(writes ? "write" : "read")}:{site}:{ClientAddress(context)}", _ => anonymous.Bucket());
    }

    private static RateLimitPartition<string> ByClient(HttpContext context, RateLimitOptions config) =>
        IsExempt(context) || ValidKey(context) is not null
            ? RateLimitPartition.GetNoLimiter("exempt")
            : RateLimitPartition.GetTokenBucketLimiter($"client:{ClientAddress(context)}", _ => config.PerClient.Bucket());

    /// <summary>
    /// The bearer token when it is a live key or the operator key (resolved by
    /// <see cref="SiteAuthorization.UseKeyLookup"/>); an unknown, revoked or made-up token counts
    /// as anonymous, so a random <c>Authorization</c> header buys no fresh bucket.
    /// </summary>
    private static PresentedKey? ValidKey(HttpContext context) =>
        context.Features.Get<PresentedKey>() is { IsValid: true } presented ? presented : null;

    /// <summary>Probes of the orchestrator must never be refused.</summary>
    private static bool IsExempt(HttpContext context) => context.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal);

    /// <summary>
    /// The client's address as the limit's key (kept in memory only while its bucket refills; never stored).
    /// IPv6 by /64: one subscriber holds a whole /64, so counting full addresses would give them 2^64 buckets.
    /// Behind a proxy, enable forwarded headers so this is the visitor, not the proxy.
    /// </summary>
    public static string ClientAddress(HttpContext context)
    {
        var ip = context.Connection.RemoteIpAddress;
        if (ip is null) return "unknown";
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (ip.AddressFamily != AddressFamily.InterNetworkV6) return ip.ToString();
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private static async ValueTask Reject(OnRejectedContext rejected, CancellationToken ct)
    {
        var http = rejected.HttpContext;
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Problems.Status(StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited, "Too many requests.",
            $"The rate limit for this client was reached; retry in {seconds} s.").ExecuteAsync(http);
    }
}
