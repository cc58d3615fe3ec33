using System.Security.Cryptography;
using System.Text;
using ConsentService.Infrastructure;
using ConsentService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentService.Tests.Unit;

/// <summary>
/// How secrets are compared, documented as tests: the operator key with a comparison whose time does
/// not depend on where the keys differ, site keys not compared at all but looked up by their SHA-256.
/// </summary>
public sealed class SecretsTests
{
    private const string Key = "cso_0123456789abcdefghijklmnopqrstuv";

    [Theory]
    [InlineData(Key, true)]
    [InlineData("Xso_0123456789abcdefghijklmnopqrstuv", false)] // differs in the first character
    [InlineData("cso_0123456789abcdefghijklmnopqrstuX", false)] // differs in the last
    [InlineData("cso_0123456789abcdefghijklmnopqrstu", false)] // a prefix
    [InlineData(Key + "w", false)] // longer
    [InlineData("", false)]
    public void The_operator_key_comparison_is_exact(string candidate, bool equal)
    {
        Assert.Equal(equal, Secrets.FixedTimeEquals(candidate, Key));
        Assert.Equal(equal, Secrets.FixedTimeEquals(Key, candidate));
    }

    [Fact]
    public void Both_sides_are_hashed_to_32_bytes_first_so_not_even_the_length_shows_in_the_timing()
    {
        // What FixedTimeEquals does, spelled out: fixed-size digests compared by CryptographicOperations.FixedTimeEquals,
        // which reads every byte whatever the first difference.
        static byte[] Digest(string s) => SHA256.HashData(Encoding.UTF8.GetBytes(s));
        foreach (var candidate in new[] { "a", Key, Key + Key + Key })
        {
            Assert.Equal(32, Digest(candidate).Length);
            Assert.Equal(CryptographicOperations.FixedTimeEquals(Digest(candidate), Digest(Key)), Secrets.FixedTimeEquals(candidate, Key));
        }
    }

    [Fact]
    public async Task Site_keys_are_stored_only_as_their_sha256_and_found_by_it()
    {
        using var factory = new ConsentApiFactory();
        var site = await factory.CreateSiteAsync();
        var stored = await factory.CountRowsAsync("api_keys", site.Id);
        Assert.Equal(3, stored);
        foreach (var key in new[] { site.AdminKey, site.LegalKey, site.CheckKey })
        {
            var hash = Secrets.Sha256Hex(key);
            Assert.Equal(1, await factory.ExecuteSqlAsync("UPDATE api_keys SET label = label WHERE key_hash = $h", ("$h", hash)));
            // The secret itself is in no column of any row.
            Assert.Equal(0, await factory.ExecuteSqlAsync(
                "UPDATE api_keys SET label = label WHERE id = $k OR site_id = $k OR coalesce(label, '') = $k OR coalesce(hint, '') = $k OR key_hash = $k", ("$k", key)));
            var found = await factory.Services.GetRequiredService<ConsentService.Sites.SiteDirectory>().FindKeyAsync(key, CancellationToken.None);
            Assert.Equal(site.Id, found?.SiteId);
        }
    }
}
