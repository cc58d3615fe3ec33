using System.Security.Cryptography;
using System.Text;
using ConsentService.Audit;
using ConsentService.Infrastructure;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

namespace ConsentService.PrivacyConsole;

/// <summary>
/// Exchanges a legal, admin or operator key for a session and resolves the session cookie back to that key.
/// <para>
/// Sessions live in the store (<see cref="ISessionStore"/>), not in memory and not as signed tokens: every
/// instance sees a sign-out at once, with no revocation list to keep beside a signature. The cookie carries
/// 256 random bits; the store keeps their SHA-256. Each request re-checks the key behind the session through
/// the key cache, so revoking the key (or rotating the operator key) ends the session on its next use.
/// </para>
/// </summary>
public sealed class ConsoleSessions(
    ISessionStore store, SiteDirectory sites, IConsentStore consents, IOptions<ConsoleOptions> options, IOptions<AdminOptions> admin, TimeProvider time)
{
    public const string CookieName = "cs_session";
    public const string CsrfHeader = "X-CSRF-Token";

    /// <summary>How much of a presented key names its failed-sign-in bucket: the key kind and a few random characters.</summary>
    public const int PrefixLength = 12;

    /// <summary>
    /// A used session's idle deadline is moved at most once a minute: each move is a durable write, and a
    /// console polling every few seconds must not turn into a write per request.
    /// </summary>
    private static readonly TimeSpan ExtendStep = TimeSpan.FromMinutes(1);

    private ConsoleOptions Options => options.Value;

    /// <summary>The operator key's hash as a session records it; null when no operator key is configured.</summary>
    private string? OperatorHash => admin.Value.ApiKey is { Length: > 0 } key ? Secrets.Sha256Hex(key) : null;

    /// <summary>What a presented key is to the console: the operator, a key that may sign in, or why not.</summary>
    public async Task<(ApiKey? Key, bool Operator, ApiKey? Refused)> IdentifyAsync(string presented, CancellationToken ct)
    {
        if (OperatorHash is { } operatorHash && Secrets.FixedTimeEquals(Secrets.Sha256Hex(presented), operatorHash))
        {
            return (null, true, null);
        }
        if (await sites.FindKeyAsync(presented, ct) is not { } key)
        {
            // Unknown or revoked. A revoked key still names its site, whose audit log then records the attempt.
            var stored = presented.StartsWith(SiteDirectory.KeyPrefix, StringComparison.Ordinal)
                ? await consents.FindApiKeyByHashAsync(Secrets.Sha256Hex(presented), ct)
                : null;
            return (null, false, stored);
        }
        return key.Role is SiteRole.Legal or SiteRole.Admin ? (key, false, null) : (null, false, key);
    }

    /// <summary>Starts a session for the operator (<paramref name="key"/> null) or a legal/admin key; returns it and its cookie value.</summary>
    public async Task<(ConsoleSession Session, string Token)> StartAsync(ApiKey? key, CancellationToken ct)
    {
        var now = time.Now();
        // Tidy as we go: sign-ins are rare, and the sweep is one indexed delete.
        await store.DeleteExpiredAsync(now, ct);
        var token = Secrets.Token(32);
        var expires = now + Options.SessionLifetime;
        var session = new ConsoleSession(
            Secrets.Sha256Hex(token),
            key is null ? AuditRoles.Operator : JsonDefaults.Name(key.Role),
            key?.SiteId,
            key?.Id,
            key?.KeyHash ?? OperatorHash ?? throw new InvalidOperationException("No operator key is configured."),
            now,
            Min(now + Options.SessionIdle, expires),
            expires);
        await store.CreateAsync(session, ct);
        return (session, token);
    }

    /// <summary>
    /// The live session behind a cookie value, its idle deadline moved forward; null when there is none, it
    /// expired, or its key was revoked (then it is deleted, so it cannot come back).
    /// </summary>
    public async Task<SessionCredential?> ResolveAsync(string token, CancellationToken ct)
    {
        if (token.Length is < 16 or > 128) return null;
        var session = await store.FindAsync(Secrets.Sha256Hex(token), ct);
        if (session is null) return null;
        var now = time.Now();
        ApiKey? key = null;
        var alive = now < session.IdleExpiresAt && now < session.ExpiresAt;
        if (alive && session.Role == AuditRoles.Operator)
        {
            alive = OperatorHash is { } operatorHash && Secrets.FixedTimeEquals(session.KeyHash, operatorHash);
        }
        else if (alive)
        {
            key = await sites.FindKeyByHashAsync(session.KeyHash, ct);
            alive = key is not null && key.Id == session.KeyId && key.SiteId == session.SiteId && JsonDefaults.Name(key.Role) == session.Role;
        }
        if (!alive)
        {
            await store.DeleteAsync(session.IdHash, ct);
            return null;
        }
        var idle = Min(now + Options.SessionIdle, session.ExpiresAt);
        if (idle - session.IdleExpiresAt >= ExtendStep)
        {
            if (!await store.ExtendAsync(session.IdHash, idle, ct)) return null; // signed out meanwhile
            session = session with { IdleExpiresAt = idle };
        }
        return new SessionCredential(session, token, key);
    }

    public Task<bool> EndAsync(SessionCredential credential, CancellationToken ct) => store.DeleteAsync(credential.Session.IdHash, ct);

    /// <summary>
    /// The session's CSRF token: an HMAC of a fixed label under the session id. Bound to the session (another
    /// session's token never fits), nothing to store, and it reveals nothing of the id it is derived from.
    /// </summary>
    public static string CsrfToken(string sessionToken) =>
        Secrets.Base64Url(HMACSHA256.HashData(Encoding.UTF8.GetBytes(sessionToken), "consentservice console csrf v1"u8));

    public async Task<SessionInfo> InfoAsync(ConsoleSession session, string token, CancellationToken ct)
    {
        IReadOnlyList<string> siteIds = session.SiteId is { } site ? [site] : await consents.ListSiteIdsAsync(ct);
        return new SessionInfo(session.Role, siteIds, session.KeyId, session.IdleExpiresAt, session.ExpiresAt, CsrfToken(token));
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
