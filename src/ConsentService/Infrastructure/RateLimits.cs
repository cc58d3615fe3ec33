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
    /// Not replenished by a timer of its own: the partitioned limiter holding it refills its buckets.
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
            AutoReplenishment = false,
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
/// key (by its id, never the key itself), health probes not at all (their endpoints disable the
/// limiter). A refused request never reaches an endpoint, so it writes nothing.
/// </summary>
public static class RateLimits
{
    /// <summary>What a bucket counts.</summary>
    private enum Counted { PublicReads, PublicWrites, PerClient, Checks, Keys }

    /// <summary>
    /// A bucket's name: what it counts and whose: a key's id ("operator" for the operator key), or a site
    /// and a client's network. A value, so sorting a request allocates no string (this runs on every request).
    /// </summary>
    private readonly record struct Bucket(Counted Counted, string? Owner, IPAddress? Client);

    public static WebApplicationBuilder AddConsentRateLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((o, limits) =>
        {
            var config = limits.Value;
            if (!config.Enabled) return;
            // Made once: a partition's factory runs only when its bucket is new.
            var buckets = new Dictionary<Counted, TokenBucketRateLimiterOptions>
            {
                [Counted.PublicReads] = config.PublicReads.Bucket(),
                [Counted.PublicWrites] = config.PublicWrites.Bucket(),
                [Counted.PerClient] = config.PerClient.Bucket(),
                [Counted.Checks] = config.Checks.Bucket(),
                [Counted.Keys] = config.Keys.Bucket(),
            };
            Func<Bucket, RateLimiter> create = bucket => new TokenBucketRateLimiter(buckets[bucket.Counted]);
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, Bucket>(context => RateLimitPartition.Get(ByRequest(context), create)),
                PartitionedRateLimiter.Create<HttpContext, Bucket>(context => ByClient(context) is { } bucket
                    ? RateLimitPartition.Get(bucket, create)
                    : RateLimitPartition.GetNoLimiter(default(Bucket))));
            o.OnRejected = Reject;
        });
        return builder;
    }

    private static Bucket ByRequest(HttpContext context)
    {
        if (ValidKey(context) is { } presented)
        {
            // The key's id (or "operator") names the bucket: never the key itself. A check key spends its own,
            // larger budget on checks.
            var owner = presented.Operator ? "operator" : presented.Key?.Id;
            var checks = context.GetEndpoint()?.Metadata.GetMetadata<SecuredEndpoint>() is { Role: Sites.SiteRole.Check };
            return new Bucket(checks ? Counted.Checks : Counted.Keys, owner, null);
        }
        var site = context.Request.RouteValues["siteId"] as string ?? "";
        return new Bucket(HttpMethods.IsPost(context.Request.Method) ? Counted.PublicWrites : Counted.PublicReads, site, ClientNetwork(context));
    }

    /// <summary>Every anonymous request of one client, whatever the site; none for a key (counted by <see cref="ByRequest"/>).</summary>
    private static Bucket? ByClient(HttpContext context) =>
        ValidKey(context) is null ? new Bucket(Counted.PerClient, null, ClientNetwork(context)) : null;

    /// <summary>
    /// The bearer token when it is a live key or the operator key (resolved by
    /// <see cref="SiteAuthorization.UseKeyLookup"/>); an unknown, revoked or made-up token counts
    /// as anonymous, so a random <c>Authorization</c> header buys no fresh bucket.
    /// </summary>
    private static PresentedKey? ValidKey(HttpContext context) =>
        context.Features.Get<PresentedKey>() is { IsValid: true } presented ? presented : null;

    /// <summary>
    /// The client's network as the limit's key (kept in memory only while its bucket refills; never stored):
    /// an IPv4 address whole, IPv6 by /64: one subscriber holds a whole /64, so counting full addresses would
    /// give them 2^64 buckets. Behind a proxy, enable forwarded headers so this is the visitor, not the proxy.
    /// </summary>
    private static IPAddress? ClientNetwork(HttpContext context)
    {
        var ip = context.Connection.RemoteIpAddress;
        if (ip is null) return null;
        if (ip.IsIPv4MappedToIPv6) return ip.MapToIPv4();
        if (ip.AddressFamily != AddressFamily.InterNetworkV6) return ip;
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary><see cref="ClientNetwork"/> as text, e.g. <c>203.0.113.7</c> or <c>2001:db8:1:2::/64</c>.</summary>
    public static string ClientAddress(HttpContext context) => ClientNetwork(context) switch
    {
        null => "unknown",
        { AddressFamily: AddressFamily.InterNetworkV6 } network => network + "/64",
        var network => network.ToString(),
    };

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
