using System.Security.Cryptography;
using System.Text;
using ConsentService.Audit;
using ConsentService.PrivacyConsole;
using ConsentService.Sites;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ConsentService.Infrastructure;

/// <summary>
/// Bearer-key checks; the operator key acts as admin on every site. Order of answers: no or unknown key → 401; a key of another site → 404
/// (another tenant's resources do not exist for it); too weak a role → 403. Without an <c>Authorization</c> header, a live console
/// session (cookie <c>cs_session</c>, resolved by <see cref="SiteAuthorization.UseKeyLookup"/>) stands for the key it was made from,
/// and its writes must carry the session's CSRF token (<see cref="CrossSiteGuard"/>).
/// </summary>
public sealed class KeyAuthenticator(SiteDirectory sites, IOptions<AdminOptions> admin, IOptions<PublicUrlOptions> publicUrl)
{
    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : null;
    }

    /// <summary>The operator key's SHA-256, computed once (the options of a singleton do not change).</summary>
    private byte[]? _operatorDigest;

    /// <summary>
    /// Compared in time independent of where the two differ, as <see cref="Secrets.FixedTimeEquals"/> does,
    /// but with the operator key hashed once, not on every request.
    /// </summary>
    public bool IsOperator(string? token) => token is not null && IsOperatorDigest(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private bool IsOperatorDigest(byte[] digest) =>
        admin.Value.ApiKey is { Length: > 0 } expected
        && CryptographicOperations.FixedTimeEquals(digest, _operatorDigest ??= SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    /// <summary>
    /// What the bearer token is, from one SHA-256 of it: compared with the operator key's digest, and looked
    /// up as a key's stored hash (<see cref="SiteDirectory.FindKeyByHashAsync"/>). Kept on the request for
    /// the rate limiter and the endpoint's authorization.
    /// </summary>
    public async Task<PresentedKey> PresentAsync(HttpContext context, string token, CancellationToken ct)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        var presented = IsOperatorDigest(digest)
            ? new PresentedKey(token, null, Operator: true)
            : new PresentedKey(token, token.StartsWith(SiteDirectory.KeyPrefix, StringComparison.Ordinal)
                ? await sites.FindKeyByHashAsync(Convert.ToHexStringLower(digest), ct)
                : null, Operator: false);
        context.Features.Set(presented);
        return presented;
    }

    /// <summary>What <see cref="SiteAuthorization.UseKeyLookup"/> found out about this token already, else the comparison.</summary>
    private bool IsOperator(HttpContext context, string? token) =>
        context.Features.Get<PresentedKey>() is { } presented && string.Equals(presented.Token, token, StringComparison.Ordinal)
            ? presented.Operator
            : IsOperator(token);

    /// <summary>The problem to answer with, or null when the key may proceed.</summary>
    public async Task<ProblemHttpResult?> AuthorizeAsync(
        HttpRequest request, string siteId, SiteRole required, CancellationToken ct)
    {
        var token = BearerToken(request);
        var session = token is null ? request.HttpContext.Features.Get<SessionCredential>() : null;
        if (token is null && session is null)
        {
            return Unauthorized(request, "Send a site API key as 'Authorization: Bearer <key>'.");
        }
        if (session?.Operator ?? IsOperator(request.HttpContext, token))
        {
            if (await sites.GetAsync(siteId, ct) is null) return Problems.SiteNotFound(siteId);
            request.HttpContext.Features.Set(new AuthenticatedKey(null, AuditRoles.Operator, siteId));
            return SessionWriteProblem(request, session);
        }
        var key = session is not null ? session.Key : await FindKeyAsync(request.HttpContext, token!, ct);
        if (key is null)
        {
            return Unauthorized(request, "The API key is unknown or revoked.");
        }
        // From here on the caller is known: its 404s and 403s go to the audit log of its own site.
        request.HttpContext.Features.Set(new AuthenticatedKey(key.Id, JsonDefaults.Name(key.Role), key.SiteId));
        if (SessionWriteProblem(request, session) is { } csrf)
        {
            return csrf;
        }
        if (!string.Equals(key.SiteId, siteId, StringComparison.Ordinal))
        {
            return Problems.SiteNotFound(siteId);
        }
        if (key.Role < required)
        {
            return Problems.Forbidden($"This endpoint needs the '{JsonDefaults.Name(required)}' role or higher; the key has '{JsonDefaults.Name(key.Role)}'.");
        }
        return null;
    }

    /// <summary>
    /// The live key behind <paramref name="token"/>, looked up once per request: the rate limiter needs
    /// it before the endpoint does (<see cref="SiteAuthorization.UseKeyLookup"/>), and a second look
    /// would cost a second cache round trip.
    /// </summary>
    public async Task<ApiKey?> FindKeyAsync(HttpContext context, string token, CancellationToken ct) =>
        (context.Features.Get<PresentedKey>() is { } presented && string.Equals(presented.Token, token, StringComparison.Ordinal)
            ? presented
            : await PresentAsync(context, token, ct)).Key;

    public ProblemHttpResult? AuthorizeOperator(HttpRequest request)
    {
        var token = BearerToken(request);
        var session = token is null ? request.HttpContext.Features.Get<SessionCredential>() : null;
        if (!(session?.Operator ?? IsOperator(request.HttpContext, token)))
        {
            if (session is not null)
            {
                // A site key's session: known, so its refusal is audited in its site's log, as a bearer key's 403 would be.
                request.HttpContext.Features.Set(new AuthenticatedKey(session.Key!.Id, session.Session.Role, session.Key.SiteId));
                return Problems.Forbidden("This endpoint needs the operator key; the session was made from a site key.");
            }
            return Unauthorized(request, "Send the operator key (configuration 'Admin:ApiKey') as 'Authorization: Bearer <key>'.");
        }
        // No site yet: the audit log takes the one the response creates.
        request.HttpContext.Features.Set(new AuthenticatedKey(null, AuditRoles.Operator, null));
        return SessionWriteProblem(request, session);
    }

    /// <summary>A write authenticated by a session cookie needs the session's CSRF token and this origin; bearer keys need neither.</summary>
    private ProblemHttpResult? SessionWriteProblem(HttpRequest request, SessionCredential? session) =>
        session is not null && CrossSiteGuard.IsWrite(request.Method)
            ? CrossSiteGuard.Check(request, session.Token, publicUrl.Value.Base)
            : null;

    /// <summary>A 401 names the scheme to use (RFC 9110 §11.6.1).</summary>
    private static ProblemHttpResult Unauthorized(HttpRequest request, string detail)
    {
        request.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Unauthorized(detail);
    }
}

public static class SiteAuthorization
{
    /// <summary>Requires a key of the route's <c>{siteId}</c> with at least <paramref name="role"/>.</summary>
    public static TBuilder RequireSiteRole<TBuilder>(this TBuilder builder, SiteRole role) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SecuredEndpoint(role)).WithDescription($"Requires a site key with role '{JsonDefaults.Name(role)}' or higher.");

    /// <summary>Requires the operator key (configuration <c>Admin:ApiKey</c>).</summary>
    public static TBuilder RequireOperator<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SecuredEndpoint(null)).WithDescription("Requires the operator key.");

    /// <summary>
    /// Resolves the bearer token of a request, if any, before the rate limiter sorts it: only a live
    /// key (or the operator key) earns a key's budget; anything else is counted as anonymous. Live
    /// keys come from the read cache; a token that cannot be a key (wrong prefix) costs nothing, and
    /// one that looks like a key costs one indexed read of the store, as in the endpoint it was sent to.
    /// </summary>
    public static IApplicationBuilder UseKeyLookup(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (KeyAuthenticator.BearerToken(context.Request) is { } token)
        {
            await context.RequestServices.GetRequiredService<KeyAuthenticator>().PresentAsync(context, token, context.RequestAborted);
        }
        else if (context.GetEndpoint()?.Metadata.GetMetadata<SecuredEndpoint>() is not null
            && context.Request.Cookies.TryGetValue(ConsoleSessions.CookieName, out var cookie) && cookie is { Length: > 0 })
        {
            // Only keyed endpoints take the cookie: public ones (a visitor's decision, consent.js) answer the same whoever is
            // signed in to the console in that browser, and never become key-authenticated writes by accident.
            var session = await context.RequestServices.GetRequiredService<ConsoleSessions>().ResolveAsync(cookie, context.RequestAborted);
            if (session is not null)
            {
                context.Features.Set(session);
                // The key's own rate-limit budget; the token is never compared with a bearer token (there is none).
                context.Features.Set(new PresentedKey("session:" + session.Session.IdHash, session.Key, session.Operator));
            }
        }
        await next(context);
    });

    /// <summary>
    /// Checks the key of every secured endpoint before its body is even read, so a caller without
    /// the right key learns nothing from validation messages.
    /// </summary>
    public static IApplicationBuilder UseKeyAuthorization(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<SecuredEndpoint>() is not { } secured)
        {
            await next(context);
            return;
        }
        var authenticator = context.RequestServices.GetRequiredService<KeyAuthenticator>();
        var problem = secured.Role is { } role
            ? await authenticator.AuthorizeAsync(context.Request, context.Request.RouteValues["siteId"] as string ?? "", role, context.RequestAborted)
            : authenticator.AuthorizeOperator(context.Request);
        if (problem is not null)
        {
            await problem.ExecuteAsync(context);
            return;
        }
        await next(context);
    });
}

/// <summary>The request's bearer token and what it turned out to be: a live key, the operator key, or neither.</summary>
public sealed record PresentedKey(string Token, ApiKey? Key, bool Operator)
{
    public bool IsValid => Operator || Key is not null;
}

/// <summary>Marks an endpoint as needing a bearer key: the operator key when <see cref="Role"/> is null.</summary>
public sealed record SecuredEndpoint(SiteRole? Role);
