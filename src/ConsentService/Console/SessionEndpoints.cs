using ConsentService.Audit;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace ConsentService.PrivacyConsole;

/// <summary>
/// <c>/console/api/session</c>: sign in with a key (POST), read the session (GET), sign out (DELETE). The key
/// travels once, in a JSON body (never a URL); from then on the browser holds only an HttpOnly cookie.
/// </summary>
public static partial class SessionEndpoints
{
    public static IEndpointRouteBuilder MapConsoleSessionEndpoints(this IEndpointRouteBuilder routes)
    {
        var session = routes.MapGroup("/console/api/session").WithTags("Console");

        session.MapPost("/", SignIn)
            .WithName("ConsoleSignIn")
            .WithSummary("Exchange a legal, admin or operator key for a console session (HttpOnly cookie cs_session)")
            .WithDescription("The key is sent once, in the JSON body. Sets cs_session (HttpOnly; SameSite=Strict; Path=/; Secure outside Development). " +
                "Check keys are refused (403). Failed sign-ins are counted per client address and key prefix; past the limit every sign-in answers 429. " +
                "Audited in the key's site log (ConsoleSignIn).")
            .WithMetadata(new AuditedWithoutKeyHeader())
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        session.MapGet("/", Get)
            .WithName("GetConsoleSession")
            .WithSummary("The current console session (role, sites, expiry, CSRF token), or 401")
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        session.MapDelete("/", SignOut)
            .WithName("ConsoleSignOut")
            .WithSummary("End the console session on the server (needs X-CSRF-Token); the cookie's value stops working everywhere")
            .WithMetadata(new AuditedWithoutKeyHeader())
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);
        return routes;
    }

    private static async Task<Results<Ok<SessionInfo>, ProblemHttpResult>> SignIn(
        [FromBody] SignInRequest request, HttpContext http, ConsoleSessions sessions, SignInLimiter limiter,
        IOptions<PublicUrlOptions> publicUrl, IWebHostEnvironment environment, ILoggerFactory loggers, CancellationToken ct)
    {
        NoStore(http);
        if (!CrossSiteGuard.IsSameOrigin(http.Request, publicUrl.Value.Base))
        {
            return Problems.Csrf("Sign in from this service's own console page.");
        }
        var client = RateLimits.ClientAddress(http);
        var prefix = request.Key[..Math.Min(ConsoleSessions.PrefixLength, request.Key.Length)];
        if (limiter.RetryAfter(client, prefix) is { } wait)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Problems.Status(StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited, "Too many failed sign-ins.",
                $"Too many failed sign-ins from this address or with this key; retry in {seconds} s.");
        }
        var (key, isOperator, refused) = await sessions.IdentifyAsync(request.Key, ct);
        if (key is null && !isOperator)
        {
            limiter.Failed(client, prefix);
            var logger = loggers.CreateLogger(typeof(SessionEndpoints));
            LogFailedSignIn(logger, SourceMinimizer.IpPrefix(http.Connection.RemoteIpAddress) ?? "unknown", refused?.SiteId, refused?.Id);
            if (refused is null)
            {
                return Problems.Unauthorized("The key is unknown or revoked.");
            }
            // A known key (revoked, or a check key): the attempt goes into its site's audit log.
            http.Features.Set(new AuthenticatedKey(refused.Id, JsonDefaults.Name(refused.Role), refused.SiteId));
            return refused.RevokedAt is null
                ? Problems.Forbidden($"The console takes a legal or admin key (or the operator key); this key has the '{JsonDefaults.Name(refused.Role)}' role.")
                : Problems.Unauthorized("The key is unknown or revoked.");
        }
        var (session, token) = await sessions.StartAsync(key, ct);
        http.Features.Set(new AuthenticatedKey(key?.Id, session.Role, key?.SiteId));
        http.Response.Cookies.Append(ConsoleSessions.CookieName, token, Cookie(environment, session.ExpiresAt));
        return TypedResults.Ok(await sessions.InfoAsync(session, token, ct));
    }

    private static async Task<Results<Ok<SessionInfo>, ProblemHttpResult>> Get(HttpContext http, ConsoleSessions sessions, IWebHostEnvironment environment, CancellationToken ct)
    {
        NoStore(http);
        if (await CurrentAsync(http, sessions, environment, ct) is not { } credential)
        {
            return Problems.Unauthorized("No console session: sign in with a key.");
        }
        return TypedResults.Ok(await sessions.InfoAsync(credential.Session, credential.Token, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SignOut(
        HttpContext http, ConsoleSessions sessions, IWebHostEnvironment environment, IOptions<PublicUrlOptions> publicUrl, CancellationToken ct)
    {
        NoStore(http);
        if (await CurrentAsync(http, sessions, environment, ct) is not { } credential)
        {
            return Problems.Unauthorized("No console session: sign in with a key.");
        }
        http.Features.Set(new AuthenticatedKey(credential.Key?.Id, credential.Session.Role, credential.Session.SiteId));
        if (CrossSiteGuard.Check(http.Request, credential.Token, publicUrl.Value.Base) is { } refused)
        {
            return refused;
        }
        await sessions.EndAsync(credential, ct);
        http.Response.Cookies.Delete(ConsoleSessions.CookieName, Cookie(environment, null));
        return TypedResults.NoContent();
    }

    /// <summary>The live session of the request's cookie; a cookie naming no live session is cleared.</summary>
    private static async Task<SessionCredential?> CurrentAsync(HttpContext http, ConsoleSessions sessions, IWebHostEnvironment environment, CancellationToken ct)
    {
        if (!http.Request.Cookies.TryGetValue(ConsoleSessions.CookieName, out var token) || string.IsNullOrEmpty(token)) return null;
        var credential = await sessions.ResolveAsync(token, ct);
        if (credential is null) http.Response.Cookies.Delete(ConsoleSessions.CookieName, Cookie(environment, null));
        return credential;
    }

    /// <summary>
    /// HttpOnly: no script reads it. SameSite=Strict: no other site's page sends it. Secure outside Development
    /// (<c>dotnet run</c> serves plain http). Expires at the session's absolute end; the server enforces the idle end.
    /// </summary>
    public static CookieOptions Cookie(IWebHostEnvironment environment, DateTimeOffset? expires) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = !environment.IsDevelopment(),
        Path = "/",
        Expires = expires,
        IsEssential = true,
    };

    private static void NoStore(HttpContext http) => http.Response.Headers.CacheControl = "no-store";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Failed console sign-in from {ClientNetwork} (site {SiteId}, key {KeyId})")]
    private static partial void LogFailedSignIn(ILogger logger, string clientNetwork, string? siteId, string? keyId);
}

/// <summary>
/// An endpoint the audit log records although the request has no <c>Authorization</c> header: it sets
/// <see cref="AuthenticatedKey"/> itself once it knows whose key it was given.
/// </summary>
public sealed record AuditedWithoutKeyHeader;
