using System.Net;
using ConsentService.Scans;
using ConsentService.Scans.Catalogue;

namespace ConsentService.Tests.Scanning;

/// <summary>The pieces a scan's findings rest on: cookie patterns, the catalogue, first/third party and the address check.</summary>
public sealed class ScanMatchingTests
{
    [Theory]
    [InlineData("_ga", "_ga", true)]
    [InlineData("_ga", "_gat", false)]
    [InlineData("_ga_*", "_ga_ABC123", true)]
    [InlineData("_ga_*", "_ga", false)]
    [InlineData("ph_*_posthog", "ph_phc123_posthog", true)]
    [InlineData("ph_*_posthog", "ph_posthog", false)]
    [InlineData("a*b*c", "a--b--c", true)]
    [InlineData("a*b*c", "a--c--b", false)]
    [InlineData("*", "anything", true)]
    public void Policy_cookie_patterns_match_with_star_only(string pattern, string name, bool matches) =>
        Assert.Equal(matches, ScanAnalyzer.Glob(pattern, name));

    [Fact]
    public void The_vendored_catalogue_names_vendors_by_cookie_prefix_and_host()
    {
        var catalogue = CookieCatalogue.LoadEmbedded();
        Assert.True(catalogue.Count > 2000, $"{catalogue.Count} entries");
        Assert.Equal(("Google Analytics", "Analytics", false), Describe(catalogue.FindCookie("_ga")));
        Assert.Equal(("Facebook", "Marketing", false), Describe(catalogue.FindCookie("_fbp")));
        Assert.Equal("Hotjar", catalogue.FindCookie("_hjSessionUser_3141592")!.Platform); // a wildcard (prefix) entry
        Assert.Null(catalogue.FindCookie("no_such_cookie_anywhere"));
        Assert.Equal("Facebook", catalogue.FindHost("www.facebook.com")?.Platform);
        Assert.Null(catalogue.FindHost("shop.example"));
        Assert.Equal("Open Cookie Database", catalogue.Info.Name);
        Assert.Equal("Apache-2.0", catalogue.Info.License);

        static (string, string, bool) Describe(CatalogueEntry? e) => (e!.Platform, e.Category, e.Necessary);
    }

    [Theory]
    [InlineData("www.shop.example", "shop.example")]
    [InlineData("shop.example", "shop.example")]
    [InlineData("a.b.c.example.", "c.example")]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("[::1]", "::1")]
    public void First_and_third_party_are_told_by_the_registrable_part_of_the_host(string host, string site) =>
        Assert.Equal(site, ScanAnalyzer.SiteOf(host));
}
