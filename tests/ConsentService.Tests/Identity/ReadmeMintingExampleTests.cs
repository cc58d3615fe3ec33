using ConsentService.Tests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Shop.Identity;

namespace ConsentService.Tests.Identity;

/// <summary>
/// The README's "Identified users" prints the minting examples the tests run: the C# one is compiled into this
/// project (every identity test mints with it), the Node one is imported by the Chromium tests.
/// </summary>
public sealed class ReadmeMintingExampleTests
{
    private static string RepoFile(string relative) =>
        File.ReadAllText(Path.Combine(Api.OpenApiAndHealthTests.RepositoryRoot(), relative)).ReplaceLineEndings("\n");

    [Theory]
    [InlineData("docs/examples/identity/SubjectToken.cs")]
    [InlineData("docs/examples/identity/mint-subject-token.mjs")]
    public void The_readme_prints_each_example_as_the_tests_run_it(string example)
    {
        var readme = RepoFile("README.md");
        var section = readme[readme.IndexOf("## Identified users", StringComparison.Ordinal)..];
        Assert.Contains(RepoFile(example).TrimEnd(), section);
    }

    [Fact]
    public async Task The_csharp_example_mints_what_the_service_takes_and_nothing_longer_lived()
    {
        using var app = new ConsentApiFactory();
        var site = await app.CreateSiteAsync();
        var secret = await app.IssueIdentitySecretAsync(site);
        var token = SubjectToken.Mint(secret.Id, secret.Secret, site.Id, "user-42", app.Time.GetUtcNow());

        var jwt = new JsonWebToken(token);
        Assert.Equal(("HS256", secret.Id, "user-42", site.Id), (jwt.Alg, jwt.Kid, jwt.Subject, jwt.Audiences.Single()));
        Assert.True(jwt.ValidTo - jwt.IssuedAt <= TimeSpan.FromHours(1));
        var answer = await app.IdentifyOkAsync(site.Id, new { subjectToken = token });
        Assert.False(answer["linked"]!.GetValue<bool>());
    }
}
