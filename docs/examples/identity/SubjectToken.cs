// Mints a subject token for a signed-in user (ConsentService, "Identified users").
// NuGet: Microsoft.IdentityModel.JsonWebTokens 8.x
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Shop.Identity;

public static class SubjectToken
{
    /// <param name="secretId">The identity secret's id ("cid_…"): the token's kid.</param>
    /// <param name="secret">The identity secret ("cis_…"), from configuration, never sent to the browser.</param>
    /// <param name="siteId">The ConsentService site id: the token's aud.</param>
    /// <param name="userId">Your own user id: the token's sub.</param>
    public static string Mint(string secretId, string secret, string siteId, string userId, DateTimeOffset now)
    {
        var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)) { KeyId = secretId };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Audience = siteId,
            Claims = new Dictionary<string, object> { ["sub"] = userId },
            IssuedAt = now.UtcDateTime,
            Expires = now.AddMinutes(10).UtcDateTime, // at most one hour after iat
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });
    }
}
