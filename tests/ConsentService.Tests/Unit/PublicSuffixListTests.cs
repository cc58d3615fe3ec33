using System.Text.RegularExpressions;
using ConsentService.Sites;

namespace ConsentService.Tests.Unit;

/// <summary>
/// The vendored Public Suffix List and its matching, against the list's own official test cases
/// (test_psl.txt from github.com/publicsuffix/list, vendored beside this file and refreshed by
/// scripts/update-public-suffix-list.sh): checkPublicSuffix(domain, registrable domain or null).
/// </summary>
public sealed partial class PublicSuffixListTests
{
    public static TheoryData<string?, string?> OfficialCases()
    {
        var data = new TheoryData<string?, string?>();
        var file = Path.Combine(AppContext.BaseDirectory, "Unit", "test_psl.txt");
        foreach (var line in File.ReadLines(file))
        {
            var m = Case().Match(line.Trim());
            if (m.Success) data.Add(Arg(m.Groups[1].Value), Arg(m.Groups[2].Value));
        }
        return data;
    }

    private static string? Arg(string token) => token == "null" ? null : token.Trim('\'');

    [GeneratedRegex(@"^checkPublicSuffix\(('[^']*'|null), ('[^']*'|null)\);")]
    private static partial Regex Case();

    [Fact]
    public void The_official_cases_are_all_read()
    {
        // Guards the theory: a file the regex no longer reads would pass vacuously.
        Assert.True(OfficialCases().Count >= 70, $"only {OfficialCases().Count} cases read from test_psl.txt");
    }

    [Theory]
    [MemberData(nameof(OfficialCases))]
    public void The_registrable_domain_is_as_the_official_test_cases_say(string? domain, string? expected)
    {
        var actual = domain is null ? null : PublicSuffixList.Default.RegistrableDomain(domain);
        // The list's cases give IDN answers in the input's form; ours are always ASCII (punycode).
        Assert.Equal(expected is null ? null : PublicSuffixList.ToAscii(expected), actual);
    }

    [Theory]
    [InlineData("com")]
    [InlineData("co.uk")]
    [InlineData("github.io")] // private section
    [InlineData("s3.amazonaws.com")] // private section
    [InlineData("anything.ck")] // wildcard *.ck
    [InlineData("localhost")] // the default rule: an unlisted single label
    public void Public_suffixes_of_both_sections_are_recognised(string domain) =>
        Assert.True(PublicSuffixList.Default.IsPublicSuffix(domain));

    [Theory]
    [InlineData("example.com", "example.com")]
    [InlineData("shop.example.co.uk", "example.co.uk")]
    [InlineData("me.github.io", "me.github.io")]
    [InlineData("www.ck", "www.ck")] // exception !www.ck
    public void Registrable_domains_are_one_label_below_the_suffix(string domain, string registrable) =>
        Assert.Equal(registrable, PublicSuffixList.Default.RegistrableDomain(domain));

    [Fact]
    public void The_parser_applies_wildcards_exceptions_and_the_default_rule()
    {
        var list = PublicSuffixList.Parse("""
            // comment
            ===BEGIN ICANN DOMAINS===
            test
            *.wild.test
            !keep.wild.test
            """);
        Assert.Equal("b.test", list.RegistrableDomain("x.a.b.test"));
        Assert.Equal("b.test", list.RegistrableDomain("a.b.test"));
        Assert.Null(list.RegistrableDomain("any.wild.test"));
        Assert.Equal("x.any.wild.test", list.RegistrableDomain("x.any.wild.test"));
        Assert.Equal("keep.wild.test", list.RegistrableDomain("a.keep.wild.test"));
        Assert.Equal("other.tld", list.RegistrableDomain("a.other.tld"));
        Assert.Null(list.RegistrableDomain("tld"));
    }
}
