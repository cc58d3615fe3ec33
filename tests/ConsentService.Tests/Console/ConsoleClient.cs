using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.PrivacyConsole;

/// <summary>A signed-in console as the browser holds it: the cookie's value (HttpOnly, never seen by script) and the CSRF token.</summary>
public sealed record ConsoleLogin(string Cookie, string Csrf, JsonObject Body, HttpResponseMessage Response);

/// <summary>Console calls made the way the browser makes them: cookie header by hand, so a test can replay or forge it.</summary>
public static class ConsoleClient
{
    /// <summary>No cookie jar: each request carries exactly the cookie the test gives it.</summary>
    public static HttpClient Browser(this WebApplicationFactory<Program> factory) =>
        factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false, AllowAutoRedirect = false });

    public static async Task<HttpResponseMessage> PostSignInAsync(this WebApplicationFactory<Program> factory, string key, string? clientAddress = null)
    {
        using var client = factory.Browser();
        var request = new HttpRequestMessage(HttpMethod.Post, "/console/api/session") { Content = JsonContent.Create(new { key }) };
        request.Headers.Add("Origin", "http://localhost");
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        if (clientAddress is not null) request.Headers.Add(ConsentApiFactory.ClientAddressHeader, clientAddress);
        return await client.SendAsync(request);
    }

    public static async Task<ConsoleLogin> SignInAsync(this WebApplicationFactory<Program> factory, string key)
    {
        var response = await factory.PostSignInAsync(key);
        var body = await ReadJsonAsync(response);
        var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("cs_session=", StringComparison.Ordinal));
        var value = setCookie["cs_session=".Length..setCookie.IndexOf(';', StringComparison.Ordinal)];
        return new ConsoleLogin(value, body["csrfToken"]!.GetValue<string>(), body, response);
    }

    /// <summary>A request as the console's own page sends it: same origin, the cookie, and the CSRF token unless told otherwise.</summary>
    public static async Task<HttpResponseMessage> SendAsync(this WebApplicationFactory<Program> factory, HttpMethod method, string path, string? cookie,
        string? csrf = null, object? body = null, string origin = "http://localhost", string fetchSite = "same-origin")
    {
        using var client = factory.Browser();
        var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        if (cookie is not null) request.Headers.Add("Cookie", "cs_session=" + cookie);
        if (csrf is not null) request.Headers.Add("X-CSRF-Token", csrf);
        if (origin.Length > 0) request.Headers.Add("Origin", origin);
        if (fetchSite.Length > 0) request.Headers.Add("Sec-Fetch-Site", fetchSite);
        return await client.SendAsync(request);
    }

    public static Task<HttpResponseMessage> GetAsync(this WebApplicationFactory<Program> factory, string path, ConsoleLogin login) =>
        factory.SendAsync(HttpMethod.Get, path, login.Cookie);

    public static async Task<HttpStatusCode> SessionStatusAsync(this WebApplicationFactory<Program> factory, string cookie) =>
        (await factory.SendAsync(HttpMethod.Get, "/console/api/session", cookie)).StatusCode;

    /// <summary>Rows in the session table, read from the file.</summary>
    public static async Task<long> SessionRowsAsync(this ConsentApiFactory app)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(app.DataDirectory, "sessions.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM console_sessions";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
