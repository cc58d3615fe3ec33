using System.ComponentModel.DataAnnotations;
using ConsentService.Infrastructure;
using ConsentService.Sites;

namespace ConsentService.PrivacyConsole;

/// <summary>
/// A console session as the store keeps it: never the session id, only its SHA-256 (<see cref="IdHash"/>), and
/// the hash of the key it was made from (<see cref="KeyHash"/>, as <c>api_keys</c> holds it; for the operator
/// the hash of the configured operator key), so a revoked or rotated key ends the session on its next use.
/// </summary>
/// <param name="Role"><c>legal</c>, <c>admin</c> or <c>operator</c>.</param>
/// <param name="SiteId">The key's site; null for the operator, who sees every site.</param>
/// <param name="IdleExpiresAt">When the session ends unless used before; moved forward by use, never past <see cref="ExpiresAt"/>.</param>
/// <param name="ExpiresAt">The absolute end, however active the session is.</param>
public sealed record ConsoleSession(
    string IdHash,
    string Role,
    string? SiteId,
    string? KeyId,
    string KeyHash,
    DateTimeOffset CreatedAt,
    DateTimeOffset IdleExpiresAt,
    DateTimeOffset ExpiresAt);

/// <summary>A live session presented by cookie on this request, with the key it stands for (null: the operator).</summary>
public sealed record SessionCredential(ConsoleSession Session, string Token, ApiKey? Key)
{
    public bool Operator => Key is null;
}

/// <summary>The body of <c>POST /console/api/session</c>.</summary>
public sealed record SignInRequest([property: Required, StringLength(256, MinimumLength = 1)] string Key);

/// <summary>What the console knows about its session. The id itself is only ever in the HttpOnly cookie.</summary>
/// <param name="Role"><c>legal</c>, <c>admin</c> or <c>operator</c>.</param>
/// <param name="Sites">The sites the session may act on: the key's one, or every site for the operator.</param>
/// <param name="KeyId">The key the session was made from (null for the operator): revoking it ends the session.</param>
/// <param name="ExpiresAt">When the session ends if unused (each use moves this forward, up to <paramref name="AbsoluteExpiresAt"/>).</param>
/// <param name="AbsoluteExpiresAt">When the session ends however active it is.</param>
/// <param name="CsrfToken">Send it as <c>X-CSRF-Token</c> on every POST, PUT, PATCH and DELETE the cookie authenticates.</param>
public sealed record SessionInfo(
    string Role,
    IReadOnlyList<string> Sites,
    string? KeyId,
    DateTimeOffset ExpiresAt,
    DateTimeOffset AbsoluteExpiresAt,
    string CsrfToken);

/// <summary>Configuration section <c>Console</c>.</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Console";

    /// <summary>A session unused this long ends (OWASP: 15-30 minutes for applications handling personal data).</summary>
    public TimeSpan SessionIdle { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A session ends this long after sign-in, however active: a working day.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>Failed sign-ins per client address before sign-in answers 429 (any key, right or wrong).</summary>
    public RateLimit FailedSignInsPerClient { get; set; } = new(10) { Window = TimeSpan.FromMinutes(15) };

    /// <summary>Failed sign-ins per key prefix (its first <see cref="ConsoleSessions.PrefixLength"/> characters), from any address.</summary>
    public RateLimit FailedSignInsPerKeyPrefix { get; set; } = new(10) { Window = TimeSpan.FromMinutes(15) };
}

public sealed class ConsoleOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<ConsoleOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, ConsoleOptions options)
    {
        var failures = new List<string>();
        if (options.SessionLifetime < TimeSpan.FromMinutes(1) || options.SessionLifetime > TimeSpan.FromDays(7))
        {
            failures.Add($"{ConsoleOptions.Section}:SessionLifetime must be between 00:01:00 and 7.00:00:00.");
        }
        if (options.SessionIdle < TimeSpan.FromMinutes(1) || options.SessionIdle > options.SessionLifetime)
        {
            failures.Add($"{ConsoleOptions.Section}:SessionIdle must be at least 00:01:00 and at most SessionLifetime.");
        }
        foreach (var (limitName, limit) in new[] { (nameof(options.FailedSignInsPerClient), options.FailedSignInsPerClient), (nameof(options.FailedSignInsPerKeyPrefix), options.FailedSignInsPerKeyPrefix) })
        {
            if (limit.PermitLimit is < 1 or > 100_000 || limit.Window < TimeSpan.FromSeconds(1) || limit.Window > TimeSpan.FromDays(1))
            {
                failures.Add($"{ConsoleOptions.Section}:{limitName} needs PermitLimit 1-100000 and Window 00:00:01-1.00:00:00.");
            }
        }
        return failures.Count == 0 ? Microsoft.Extensions.Options.ValidateOptionsResult.Success : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(failures);
    }
}
