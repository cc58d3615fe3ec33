using System.Text;
using ConsentService.Consents;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ConsentService.Identity;

/// <summary>A checked subject token: the site's user id, or why the token is refused.</summary>
public sealed record SubjectTokenVerdict(string? UserId, string? Error);

/// <summary>
/// Checks subject tokens: HS256 JWTs the site's back end signs with one of its identity secrets (<c>kid</c> = the
/// secret's id), <c>aud</c> = the site id, <c>sub</c> = the site's user id, <c>iat</c> and <c>exp</c> at most
/// <see cref="MaxLifetime"/> apart. Validation is Microsoft.IdentityModel's, not ours: algorithm pinned (no
/// <c>none</c>, no RS/HS confusion), signature, audience, lifetime on the injected clock.
/// </summary>
public sealed class SubjectTokens(IdentitySecretVault vault, TimeProvider time)
{
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(1);
    /// <summary>Clocks of the site's back end and ours disagree a little; a minute, not the library's five.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);
    private const int MaxTokenLength = 4096;

    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };

    public async Task<SubjectTokenVerdict> ValidateAsync(string siteId, string token, CancellationToken ct)
    {
        if (token.Length is 0 or > MaxTokenLength)
        {
            return Refuse($"A JWT of at most {MaxTokenLength} characters.");
        }
        var keys = (await vault.ActiveAsync(siteId, ct))
            .Select(s => (SecurityKey)new SymmetricSecurityKey(Encoding.UTF8.GetBytes(s.Value)) { KeyId = s.Id })
            .ToList();
        if (keys.Count == 0)
        {
            return Refuse("The site has no active identity secret: an admin issues one (POST /v1/sites/{siteId}/identity-secrets).");
        }
        var result = await Handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            IssuerSigningKeys = keys,
            TryAllIssuerSigningKeys = false, // the kid names the secret; a token without a known kid is refused
            ValidateIssuerSigningKey = true,
            RequireSignedTokens = true,
            ValidateAudience = true,
            ValidAudience = siteId,
            ValidateIssuer = false,
            // Lifetime below, on the injected clock (TokenValidationParameters reads the system clock).
            ValidateLifetime = false,
        });
        if (!result.IsValid)
        {
            return Refuse(result.Exception switch
            {
                SecurityTokenInvalidAudienceException => $"The token is for another site: aud must be '{siteId}'.",
                SecurityTokenSignatureKeyNotFoundException => "The token's kid names no active identity secret of this site.",
                SecurityTokenInvalidAlgorithmException => "The token must be signed with HS256.",
                SecurityTokenInvalidSignatureException => "The token's signature does not verify.",
                _ => "Not a subject token of this site (an HS256 JWT with kid, aud, sub, iat and exp).",
            });
        }
        var jwt = (JsonWebToken)result.SecurityToken;
        if (!jwt.TryGetPayloadValue<long>("iat", out var iatSeconds) || !jwt.TryGetPayloadValue<long>("exp", out var expSeconds))
        {
            return Refuse("The token needs iat and exp (seconds since 1970).");
        }
        var now = time.GetUtcNow();
        var (iat, exp) = (DateTimeOffset.FromUnixTimeSeconds(iatSeconds), DateTimeOffset.FromUnixTimeSeconds(expSeconds));
        if (exp + ClockSkew <= now)
        {
            return Refuse("The token has expired: the site's back end mints a fresh one per page view.");
        }
        if (iat > now + ClockSkew || (jwt.TryGetPayloadValue<long>("nbf", out var nbf) && DateTimeOffset.FromUnixTimeSeconds(nbf) > now + ClockSkew))
        {
            return Refuse("The token is not valid yet (iat or nbf in the future).");
        }
        if (exp - iat > MaxLifetime)
        {
            return Refuse($"The token lives longer than {MaxLifetime.TotalMinutes:0} minutes (exp - iat).");
        }
        var sub = jwt.Subject;
        if (string.IsNullOrEmpty(sub) || !SubjectIds.IsValid(sub) || sub.StartsWith("sub_", StringComparison.Ordinal))
        {
            return Refuse("sub is the site's user id: " + SubjectIds.Rule + " Not starting with 'sub_' (anonymous ids).");
        }
        return new SubjectTokenVerdict(sub, null);
    }

    private static SubjectTokenVerdict Refuse(string error) => new(null, error);
}
