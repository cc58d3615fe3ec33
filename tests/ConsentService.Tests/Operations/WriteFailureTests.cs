using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Consents;
using ConsentService.Tests.Durability;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Operations;

/// <summary>
/// A disk that fills up under the running service: a real one (a small tmpfs holding the data folder,
/// filled by another file), not a simulated exception, so SQLite meets ENOSPC where it really writes.
/// </summary>
public sealed class WriteFailureTests
{
    [SkippableFact]
    public async Task A_full_disk_answers_writes_503_with_Retry_After_and_readiness_is_unhealthy_until_space_is_freed()
    {
        using var mount = TmpfsMount.TryMount("size=4m");
        Skip.If(mount is null, TmpfsMount.SkipReason);
        await using var service = await ServiceProcess.StartAsync(Path.Combine(mount.Path, "data"));
        var (siteId, legalKey, checkKey) = await CreateSiteAsync(service.Address);
        using var visitor = new HttpClient { BaseAddress = service.Address };
        using var probe = new HttpClient { BaseAddress = service.Address };
        using var checker = new HttpClient { BaseAddress = service.Address };
        checker.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", checkKey);
        var subject = SubjectIds.New();
        Assert.Equal(HttpStatusCode.Created, (await visitor.PostAsync($"/v1/sites/{siteId}/consents", Decision(subject, "accept_all"))).StatusCode);

        var filler = Path.Combine(mount.Path, "filler");
        FillTheDisk(filler);

        // A withdrawal the disk cannot take: not the client's fault, so 503 with a type and Retry-After, never a bare 500.
        // (Free space left in the last page of the WAL may take a write or two first.)
        HttpResponseMessage refused = null!;
        for (var i = 0; i < 50; i++)
        {
            refused = await visitor.PostAsync($"/v1/sites/{siteId}/consents", Decision(subject, "withdraw"));
            if (refused.StatusCode != HttpStatusCode.Created) break;
        }
        var problem = await ReadJsonAsync(refused, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("urn:consentservice:problem:storage-unavailable", problem["type"]!.GetValue<string>());
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);

        // Readiness says so (a load balancer takes the instance out) and names the file.
        using (var ready = await probe.GetAsync("/health/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            var health = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!;
            Assert.Equal("Unhealthy", health["status"]!.GetValue<string>());
            Assert.Equal("Unhealthy", health["checks"]!["store"]!["status"]!.GetValue<string>());
            Assert.Contains("consent.db", health["checks"]!["store"]!["description"]!.GetValue<string>());
        }
        // Reads still work, and the refused write changed nothing: the last stored decision is the grant.
        var withdrawals = await CountAsync(service.Address, legalKey, siteId, "withdraw");
        var state = await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{siteId}/subjects/{subject}/consent"));
        Assert.Equal(state["purposes"]!["analytics"]!["granted"]!.GetValue<bool>(), withdrawals == 0);
        // That legal read was answered, but its audit event could not be stored: the audit check says so too.
        using (var ready = await probe.GetAsync("/health/ready"))
        {
            var health = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!;
            Assert.Equal("Degraded", health["checks"]!["audit"]!["status"]!.GetValue<string>());
        }

        // Space comes back: readiness recovers by itself (no client writes to an instance taken out of rotation).
        File.Delete(filler);
        using (var ready = await probe.GetAsync("/health/ready"))
        {
            Assert.True(ready.StatusCode == HttpStatusCode.OK, await ready.Content.ReadAsStringAsync());
        }
        Assert.Equal(HttpStatusCode.Created, (await visitor.PostAsync($"/v1/sites/{siteId}/consents", Decision(subject, "withdraw"))).StatusCode);
        state = await ReadJsonAsync(await checker.GetAsync($"/v1/sites/{siteId}/subjects/{subject}/consent"));
        Assert.False(state["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());

        using var legal = new HttpClient { BaseAddress = service.Address };
        legal.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", legalKey);
        var report = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{siteId}/ledger/verify"));
        Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
        var recovered = JsonNode.Parse(await probe.GetStringAsync("/health/ready"))!; // that read's event was stored
        Assert.Equal("Healthy", recovered["status"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task A_full_disk_at_start_stops_it_with_one_line_naming_the_folder_and_the_fix()
    {
        using var mount = TmpfsMount.TryMount("size=4m");
        Skip.If(mount is null, TmpfsMount.SkipReason);
        var data = Path.Combine(mount.Path, "data");
        await using (var service = await ServiceProcess.StartAsync(data))
        {
            await CreateSiteAsync(service.Address);
            await service.KillAsync();
        }
        FillTheDisk(Path.Combine(mount.Path, "filler"));

        var (exitCode, output) = await ServiceProcess.RunUntilExitAsync(data, TimeSpan.FromSeconds(90));

        Assert.True(exitCode == 1, $"exit code {exitCode}:\n{output}");
        Assert.Contains($"ConsentService cannot start: SQLite error 13 (database or disk is full) in the data folder {data}. The disk of the data folder {data} is full: free space on it.", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    /// <summary>Writes until the file system says no space is left (ENOSPC), in big then small pieces.</summary>
    private static void FillTheDisk(string path)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        foreach (var size in new[] { 256 * 1024, 4096, 64 })
        {
            var block = new byte[size];
            try
            {
                while (true) file.Write(block);
            }
            catch (IOException)
            {
                // full at this granularity
            }
        }
    }

    private static StringContent Decision(string subject, string method) =>
        new(JsonSerializer.Serialize(new { subjectId = subject, subjectSecret = SecretOf(subject), policyVersion = 1, method }), Encoding.UTF8, "text/plain");

    private static async Task<long> CountAsync(Uri address, string legalKey, string siteId, string method)
    {
        using var legal = new HttpClient { BaseAddress = address };
        legal.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", legalKey);
        var page = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{siteId}/consents?method={method}&limit=1000"));
        return page["items"]!.AsArray().Count;
    }

    private static async Task<(string SiteId, string LegalKey, string CheckKey)> CreateSiteAsync(Uri address)
    {
        using var op = new HttpClient { BaseAddress = address };
        op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceProcess.OperatorKey);
        var site = await ReadJsonAsync(await op.PostAsJsonAsync("/v1/sites", new { name = "Full disk shop", allowedOrigins = new[] { "https://shop.example" } }),
            HttpStatusCode.Created);
        var id = site["id"]!.GetValue<string>();
        op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", site["adminKey"]!["key"]!.GetValue<string>());
        var legal = await ReadJsonAsync(await op.PostAsJsonAsync($"/v1/sites/{id}/keys", new { role = "legal" }), HttpStatusCode.Created);
        var check = await ReadJsonAsync(await op.PostAsJsonAsync($"/v1/sites/{id}/keys", new { role = "check" }), HttpStatusCode.Created);
        return (id, legal["key"]!.GetValue<string>(), check["key"]!.GetValue<string>());
    }
}
