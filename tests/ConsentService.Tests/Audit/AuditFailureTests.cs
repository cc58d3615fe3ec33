using System.Net;
using System.Net.Http.Json;
using ConsentService.Audit;
using ConsentService.Storage;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using static ConsentService.Tests.Audit.AuditApi;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Audit;

/// <summary>When things break: a request that fails inside is still recorded; a broken audit store fails no request.</summary>
public sealed class AuditFailureTests
{
    [Fact]
    public async Task A_request_that_throws_is_recorded_with_outcome_500()
    {
        using var factory = new ConsentApiFactory();
        var site = await factory.CreateAuditedSiteAsync();
        await using (var connection = new SqliteConnection($"Data Source={factory.DatabasePath};Pooling=False"))
        {
            // The keys table goes missing under the running app: listing keys now throws inside the store.
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "ALTER TABLE api_keys RENAME TO api_keys_gone";
            await command.ExecuteNonQueryAsync();
        }
        using var op = factory.Client(ConsentApiFactory.OperatorKey); // the operator key needs no keys table

        var problem = await AssertProblemAsync(await op.GetAsync($"/v1/sites/{site.Id}/keys"), HttpStatusCode.InternalServerError, "internal");

        var failed = (await factory.EventsAsync(site.Id, ConsentApiFactory.OperatorKey))[0];
        Assert.Equal(("ListApiKeys", "operator", 500), (failed.Action(), failed["role"]!.GetValue<string>(), failed.Outcome()));
        Assert.Equal(problem["requestId"]!.GetValue<string>(), failed.RequestId());
    }

    [Fact]
    public async Task A_broken_audit_store_fails_no_request_and_readiness_reports_it()
    {
        using var parent = new ConsentApiFactory();
        using var factory = parent.WithWebHostBuilder(b => b.ConfigureServices(s => s.Replace(ServiceDescriptor.Singleton<IAuditStore>(new BrokenAuditStore()))));
        var site = await factory.CreateAuditedSiteAsync();
        using var admin = factory.Client(site.AdminKey);

        var patched = await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}", new { name = "Still works" }));
        Assert.Equal("Still works", patched["name"]!.GetValue<string>());
        await AssertProblemAsync(await admin.GetAsync($"/v1/sites/{site.Id}/audit/logs"), HttpStatusCode.InternalServerError, "internal");

        var ready = await ReadJsonAsync(await admin.GetAsync("/health/ready"));
        Assert.Equal("Degraded", ready["status"]!.GetValue<string>());
        Assert.Equal("Degraded", ready["checks"]!["audit"]!["status"]!.GetValue<string>());
        Assert.Equal("Healthy", ready["checks"]!["store"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Readiness_includes_a_healthy_audit_store()
    {
        using var factory = new ConsentApiFactory();
        using var client = factory.Client(null);
        var ready = await ReadJsonAsync(await client.GetAsync("/health/ready"));
        Assert.Equal("Healthy", ready["checks"]!["audit"]!["status"]!.GetValue<string>());
    }

    private sealed class BrokenAuditStore : IAuditStore
    {
        private static InvalidOperationException Down() => new("The audit store is down.");

        public Task InitializeAsync(CancellationToken ct) => Task.CompletedTask;
        public Task<bool> PingAsync(CancellationToken ct) => throw Down();
        public Task AppendAsync(AuditEvent auditEvent, CancellationToken ct) => throw Down();
        public Task<AuditPage> QueryAsync(string siteId, AuditFilter filter, AuditPosition? after, int limit, CancellationToken ct) => throw Down();
        public IAsyncEnumerable<AuditEvent> ExportAsync(string siteId, AuditFilter filter, CancellationToken ct) => throw Down();
        public Task<long> DeleteOlderThanAsync(string siteId, DateTimeOffset cutoff, CancellationToken ct) => throw Down();
        public Task<bool> TombstoneAsync(string siteId, string requestId, AuditDeletion deletion, CancellationToken ct) => throw Down();
        public Task<IReadOnlyList<string>> ListSiteIdsAsync(CancellationToken ct) => throw Down();
    }
}
