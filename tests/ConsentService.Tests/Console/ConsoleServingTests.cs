using System.Net;
using System.Net.Http.Headers;
using ConsentService.Tests.Infrastructure;

namespace ConsentService.Tests.PrivacyConsole;

public sealed class ConsoleServingTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private const string Csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly byte[] Index = File.ReadAllBytes(Path.Combine(RepoRoot(), "src/ConsentService/Console/wwwroot/index.html"));

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ConsentService.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    [Theory]
    [InlineData("/console")]
    [InlineData("/console/")]
    [InlineData("/console/index.html")]
    [InlineData("/console/subjects/abc")] // a client-side route
    [InlineData("/console/sites/demo/proof")]
    public async Task The_console_page_is_the_embedded_index_with_a_strict_policy(string path)
    {
        using var client = factory.CreateClient();
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Index, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(Csp, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.True(response.Headers.CacheControl?.NoCache, $"Cache-Control {response.Headers.CacheControl}");
        Assert.NotNull(response.Headers.ETag);
    }

    [Theory]
    [InlineData("/console/missing.js")]
    [InlineData("/console/fonts/none.woff2")]
    [InlineData("/console/api/nothing")]
    [InlineData("/console/api")]
    public async Task Missing_files_and_unknown_api_paths_are_404_not_the_page(string path)
    {
        using var client = factory.CreateClient();
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotEqual("text/html", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_page_is_served_precompressed_and_revalidated_by_etag()
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/console/");
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("br"));
        var response = await client.SendAsync(request);
        Assert.Equal("br", response.Content.Headers.ContentEncoding.Single());
        using var again = new HttpRequestMessage(HttpMethod.Get, "/console/subjects");
        again.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("br"));
        again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        var notModified = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task Every_committed_console_file_is_embedded_and_served_byte_for_byte()
    {
        using var client = factory.CreateClient();
        var root = Path.Combine(RepoRoot(), "src/ConsentService/Console/wwwroot");
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var path = Path.GetRelativePath(root, file).Replace('\\', '/');
            var response = await client.GetAsync("/console/" + path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
            Assert.Equal(await File.ReadAllBytesAsync(file), await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(Csp, response.Headers.GetValues("Content-Security-Policy").Single());
        }
    }
}
