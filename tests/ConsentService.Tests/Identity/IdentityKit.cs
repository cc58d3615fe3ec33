using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Shop.Identity;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Identity;

/// <summary>An identity secret as the admin API answered it once.</summary>
public sealed record IssuedSecret(string Id, string Secret);

/// <summary>Identity secrets and subject tokens the way a site's back end uses them.</summary>
public static class IdentityKit
{
    public static async Task<IssuedSecret> IssueIdentitySecretAsync(this ConsentApiFactory app, TestSite site)
    {
        using var admin = app.ClientWithKey(site.AdminKey);
        var issued = await ReadJsonAsync(await admin.PostAsync($"/v1/sites/{site.Id}/identity-secrets", null), HttpStatusCode.Created);
        return new IssuedSecret(issued["id"]!.GetValue<string>(), issued["secret"]!.GetValue<string>());
    }

    /// <summary>A token minted with the README's C# example (docs/examples/identity/SubjectToken.cs), at the service's clock.</summary>
    public static string Token(this ConsentApiFactory app, TestSite site, IssuedSecret secret, string userId) =>
        SubjectToken.Mint(secret.Id, secret.Secret, site.Id, userId, app.Time.GetUtcNow());

    /// <summary>A JWT built by hand, for the tokens no library would mint: any header, any claims, any key (null: no signature).</summary>
    public static string Jwt(object header, object payload, string? key)
    {
        static string Part(object json) => Base64Url(JsonSerializer.SerializeToUtf8Bytes(json));
        var body = Part(header) + "." + Part(payload);
        return body + "." + (key is null ? "" : Base64Url(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(body))));
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static Task<HttpResponseMessage> IdentifyAsync(this HttpClient client, string siteId, object body) =>
        client.PostAsync($"/v1/sites/{siteId}/identify", new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "text/plain"));

    public static async Task<JsonObject> IdentifyOkAsync(this ConsentApiFactory app, string siteId, object body)
    {
        using var client = app.CreateClient();
        return await ReadJsonAsync(await client.IdentifyAsync(siteId, body));
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, object body) => client.PostAsJsonAsync(path, body);
}
