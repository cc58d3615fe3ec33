using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Audit;

/// <summary>A site made for one test, with a key of each role and the key ids the audit log names.</summary>
public sealed record AuditedSite(string Id, string AdminKey, string AdminKeyId, string LegalKey, string LegalKeyId, string CheckKey, string CheckKeyId);

/// <summary>Audit-log calls made the way a client makes them, on any instance of the app.</summary>
public static class AuditApi
{
    public static HttpClient Client(this WebApplicationFactory<Program> factory, string? key)
    {
        var client = factory.CreateClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    /// <summary>The operator creates a site; its admin issues a legal and a check key. Three audited calls.</summary>
    public static async Task<AuditedSite> CreateAuditedSiteAsync(this WebApplicationFactory<Program> factory)
    {
        using var op = factory.Client(ConsentApiFactory.OperatorKey);
        var created = await ReadJsonAsync(await op.PostAsJsonAsync("/v1/sites", new { name = "Audited shop" }), HttpStatusCode.Created);
        var id = created["id"]!.GetValue<string>();
        var admin = created["adminKey"]!["key"]!.GetValue<string>();
        var (legal, legalId) = await factory.IssueAsync(id, admin, "legal");
        var (check, checkId) = await factory.IssueAsync(id, admin, "check");
        return new AuditedSite(id, admin, created["adminKey"]!["id"]!.GetValue<string>(), legal, legalId, check, checkId);
    }

    public static async Task<(string Key, string Id)> IssueAsync(this WebApplicationFactory<Program> factory, string siteId, string adminKey, string role)
    {
        using var admin = factory.Client(adminKey);
        var issued = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{siteId}/keys", new { role }), HttpStatusCode.Created);
        return (issued["key"]!.GetValue<string>(), issued["id"]!.GetValue<string>());
    }

    /// <summary>One page of <c>GET …/audit/logs</c> (itself an audited call).</summary>
    public static async Task<JsonObject> LogsAsync(this WebApplicationFactory<Program> factory, string siteId, string adminKey, string query = "")
    {
        using var admin = factory.Client(adminKey);
        return await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{siteId}/audit/logs{query}"));
    }

    /// <summary>The site's events, newest first, as one page of up to 1000 (the read itself comes after them).</summary>
    public static async Task<List<JsonObject>> EventsAsync(this WebApplicationFactory<Program> factory, string siteId, string adminKey, string query = "")
    {
        var page = await factory.LogsAsync(siteId, adminKey, "?limit=1000" + (query.Length > 0 ? "&" + query.TrimStart('?') : ""));
        Assert.Null(page["nextCursor"]?.GetValue<string>());
        return [.. page["items"]!.AsArray().Select(e => e!.AsObject())];
    }

    /// <summary>Events in the <c>audit.db</c> file itself, to show what a request did or did not write.</summary>
    public static async Task<long> AuditRowsAsync(string dataDirectory, string? siteId = null)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "audit.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = siteId is null ? "SELECT count(*) FROM audit_events" : "SELECT count(*) FROM audit_events WHERE site_id = $site";
        command.Parameters.AddWithValue("$site", siteId ?? "");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The commitment the ledger holds for a subject: the pseudonym its audit events carry.</summary>
    public static async Task<string> SubjectCommitmentAsync(string databasePath, string siteId, string subjectId)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT subject_commitment FROM consents WHERE site_id = $site AND subject_id = $subject";
        command.Parameters.AddWithValue("$site", siteId);
        command.Parameters.AddWithValue("$subject", subjectId);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    public static string Action(this JsonObject e) => e["action"]!.GetValue<string>();

    public static string? KeyId(this JsonObject e) => e["keyId"]?.GetValue<string>();

    public static int Outcome(this JsonObject e) => e["outcome"]!.GetValue<int>();

    public static string RequestId(this JsonObject e) => e["requestId"]!.GetValue<string>();

    public static Dictionary<string, string> Target(this JsonObject e) =>
        e["target"]!.AsObject().ToDictionary(t => t.Key, t => t.Value!.GetValue<string>());
}
