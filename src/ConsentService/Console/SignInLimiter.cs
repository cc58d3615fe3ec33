using System.Threading.RateLimiting;
using ConsentService.Infrastructure;
using Microsoft.Extensions.Options;

namespace ConsentService.PrivacyConsole;

/// <summary>
/// Counts failed console sign-ins in two token buckets, by client address and by key prefix (ASP.NET Core's
/// rate limiter counts requests before they run; this counts outcomes, so a correct key costs nothing).
/// While either bucket is empty every sign-in from that address or with that prefix is answered 429, right
/// key or not: a guesser learns nothing from the answers. Per instance, as the request rate limits are.
/// </summary>
public sealed class SignInLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures;
    private readonly ConsoleOptions _options;

    public SignInLimiter(IOptions<ConsoleOptions> options)
    {
        _options = options.Value;
        _failures = PartitionedRateLimiter.Create<string, string>(partition => RateLimitPartition.GetTokenBucketLimiter(partition,
            p => (p.StartsWith("client:", StringComparison.Ordinal) ? _options.FailedSignInsPerClient : _options.FailedSignInsPerKeyPrefix).Bucket()));
    }

    /// <summary>How long to wait when either bucket is empty; null when a sign-in may be tried.</summary>
    public TimeSpan? RetryAfter(string clientAddress, string keyPrefix)
    {
        if (Empty("client:" + clientAddress)) return Refill(_options.FailedSignInsPerClient);
        if (Empty("prefix:" + keyPrefix)) return Refill(_options.FailedSignInsPerKeyPrefix);
        return null;
    }

    public void Failed(string clientAddress, string keyPrefix)
    {
        using var byClient = _failures.AttemptAcquire("client:" + clientAddress);
        using var byPrefix = _failures.AttemptAcquire("prefix:" + keyPrefix);
    }

    private bool Empty(string partition) => _failures.GetStatistics(partition)?.CurrentAvailablePermits <= 0;

    /// <summary>One token comes back after this long (see <see cref="RateLimit.Bucket"/>).</summary>
    private static TimeSpan Refill(RateLimit limit) => limit.Bucket().ReplenishmentPeriod;

    public void Dispose() => _failures.Dispose();
}
