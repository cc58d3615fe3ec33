using ConsentService.Policies;

namespace ConsentService.Tests.Unit;

/// <summary>Whether two vendor name patterns (literal text and *) can match one name: the snippet's clean-up relies on the answer.</summary>
public sealed class NamePatternsTests
{
    [Theory]
    [InlineData("_ga", "_ga", true)]
    [InlineData("_ga", "_gb", false)]
    [InlineData("_ga", "_ga_*", false)] // _ga_* needs the underscore
    [InlineData("_ga*", "_ga", true)]
    [InlineData("_ga_*", "_g*_x", true)] // _ga_x
    [InlineData("ph_*_posthog", "ph_*", true)]
    [InlineData("ph_*_posthog", "*hog", true)]
    [InlineData("ph_*_posthog", "*_hog", false)] // ends in "thog"
    [InlineData("ph_*_posthog", "ph_key_posthog", true)]
    [InlineData("ph_*_posthog", "ph__posthog2", false)]
    [InlineData("a*a*a*b", "aaab", true)]
    [InlineData("a*a*a*b", "aab", false)]
    [InlineData("ph_*_posthog", "*_cat", false)]
    [InlineData("a*b*c", "*x*", true)] // axbc
    [InlineData("a*b", "b*a", false)]
    [InlineData("*", "anything", true)]
    [InlineData("con*", "consent_*", true)]
    [InlineData("*_outbox_*", "consent_*", true)]
    [InlineData("_hj*", "consent_*", false)]
    [InlineData("A*", "a*", false)] // names are case-sensitive
    [InlineData("a.b", "a*b", true)]
    [InlineData("ab*cd", "abc*d", true)] // abcd
    [InlineData("ab*cd", "abx*d", true)] // abxcd
    [InlineData("ab*c", "abd", false)]
    public void Overlap_is_whether_some_name_matches_both(string a, string b, bool expected)
    {
        Assert.Equal(expected, NamePatterns.Overlap(a, b));
        Assert.Equal(expected, NamePatterns.Overlap(b, a));
    }

    [Fact]
    public void The_worst_case_policy_is_checked_quickly()
    {
        // 200 patterns of 100 characters, half globs and half literals that pass the head/tail
        // shortcut, so each glob-literal pair needs a full match (the pathological case for wildcards).
        var patterns = Enumerable.Range(0, 200).Select(i => i % 2 == 0
            ? "a" + string.Concat(Enumerable.Repeat("*a", 49)) + "b"
            : new string('a', 98 - i % 7) + "b").ToList();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var overlaps = 0;
        for (var i = 0; i < patterns.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (NamePatterns.Overlap(patterns[i], patterns[j])) overlaps++;
            }
        }
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
        Assert.True(overlaps > 0);
    }
}
