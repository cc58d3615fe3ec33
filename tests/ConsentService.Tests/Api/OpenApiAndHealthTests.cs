using System.Net;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

public sealed class OpenApiAndHealthTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    [Fact]
    public async Task The_committed_openapi_document_matches_what_the_code_generates()
    {
        using var client = factory.CreateClient();
        var served = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var path = Path.Combine(RepositoryRoot(), "openapi", "v1.json");
        var committed = JsonNode.Parse(await File.ReadAllTextAsync(path));
        Assert.True(JsonNode.DeepEquals(served, committed),
            $"{path} is out of date: run 'dotnet build src/ConsentService' (it regenerates the file) and commit the result.");
    }

    [Fact]
    public async Task The_document_describes_every_endpoint_and_its_key_requirement()
    {
        using var client = factory.CreateClient();
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;
        var paths = document["paths"]!.AsObject();
        foreach (var path in new[]
        {
            "/v1/sites", "/v1/sites/{siteId}", "/v1/sites/{siteId}/keys", "/v1/sites/{siteId}/keys/{keyId}",
            "/v1/sites/{siteId}/policies", "/v1/sites/{siteId}/policies/{version}", "/v1/sites/{siteId}/consents",
            "/v1/sites/{siteId}/subjects/{subjectId}/consent", "/v1/sites/{siteId}/subjects/{subjectId}/history",
        })
        {
            Assert.True(paths.ContainsKey(path), $"missing {path}");
        }
        Assert.NotNull(paths["/v1/sites/{siteId}/subjects/{subjectId}/history"]!["get"]!["security"]);
        Assert.Null(paths["/v1/sites/{siteId}/policies/{version}"]!["get"]!["security"]);
        var consentBody = paths["/v1/sites/{siteId}/consents"]!["post"]!["requestBody"]!["content"]!.AsObject();
        Assert.True(consentBody.ContainsKey("text/plain"));
        Assert.True(consentBody.ContainsKey("application/json"));
        Assert.Equal("http", document["components"]!["securitySchemes"]!["bearer"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Swagger_ui_serves_the_document()
    {
        using var client = factory.CreateClient();
        var response = await client.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/openapi/v1.json", await client.GetStringAsync("/swagger/index.js"));
    }

    [Fact]
    public async Task Liveness_and_readiness_report_the_store()
    {
        using var client = factory.CreateClient();
        var live = await ReadJsonAsync(await client.GetAsync("/health/live"));
        Assert.Equal("Healthy", live["status"]!.GetValue<string>());

        var ready = await ReadJsonAsync(await client.GetAsync("/health/ready"));
        Assert.Equal("Healthy", ready["status"]!.GetValue<string>());
        Assert.Equal("Healthy", ready["checks"]!["store"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Liveness_answered_from_fixed_bytes_keeps_its_body_and_headers()
    {
        using var client = factory.CreateClient();
        // The answer is now fixed bytes written without the health-check service: the same contract as before.
        using var live = await client.GetAsync("/health/live", HttpCompletionOption.ResponseHeadersRead);
        var body = await live.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("""{"status":"Healthy","checks":{}}""", body);
        Assert.Equal(body.Length, live.Content.Headers.ContentLength);
        Assert.Equal("application/json", live.Content.Headers.ContentType?.MediaType);
        Assert.True(live.Headers.CacheControl?.NoStore);
        Assert.Equal("nosniff", live.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", live.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task Unknown_routes_are_problem_details()
    {
        using var client = factory.CreateClient();
        await AssertProblemAsync(await client.GetAsync("/v1/unknown"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await client.DeleteAsync("/v1/policy-template"), HttpStatusCode.MethodNotAllowed, "method-not-allowed");
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ConsentService.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("ConsentService.sln not found above " + AppContext.BaseDirectory);
    }
}
