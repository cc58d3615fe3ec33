using ConsentService.Infrastructure;

namespace ConsentService.Policies;

/// <summary>
/// The vendors' cookie and localStorage name patterns (literal text and <c>*</c>) that the snippet
/// deletes when a purpose is refused or withdrawn. The snippet deletes every name a refused
/// purpose's pattern matches, so the policy must make that safe: no name may be claimed by two
/// purposes (refusing one would delete what the other was granted), and no optional purpose may
/// claim the snippet's own names (<c>consent_…</c>: the decision cookie, its secret, the outbox).
/// </summary>
public static class NamePatterns
{
    /// <summary>Patterns of one kind in a whole policy: the snippet carries them all and compares each pair here.</summary>
    public const int MaxPerPolicy = 200;

    /// <summary>The prefix of every name the snippet keeps (consent_&lt;siteId&gt;, consent_secret_…, consent_outbox_…).</summary>
    public const string Reserved = "consent_*";

    private sealed record Entry(int Purpose, string PurposeId, bool Required, string Field, string Pattern);

    public static void Validate(PublishPolicyRequest request, ValidationErrors errors)
    {
        foreach (var kind in new[] { "cookies", "localStorage" })
        {
            var entries = new List<Entry>();
            for (var i = 0; i < request.Purposes.Count; i++)
            {
                var purpose = request.Purposes[i];
                var vendors = purpose.Vendors ?? [];
                for (var v = 0; v < vendors.Count; v++)
                {
                    var patterns = (kind == "cookies" ? vendors[v].Cookies : vendors[v].LocalStorage) ?? [];
                    for (var p = 0; p < patterns.Count; p++)
                    {
                        entries.Add(new Entry(i, purpose.Id, purpose.Required, $"purposes[{i}].vendors[{v}].{kind}[{p}]", patterns[p]));
                    }
                }
            }
            if (entries.Count > MaxPerPolicy)
            {
                errors.Add("purposes", $"A policy lists at most {MaxPerPolicy} {kind} patterns across its vendors; this one lists {entries.Count}.");
                continue;
            }
            Check(entries, errors);
        }
    }

    private static void Check(List<Entry> entries, ValidationErrors errors)
    {
        for (var a = 0; a < entries.Count; a++)
        {
            var entry = entries[a];
            if (!entry.Required && Overlap(entry.Pattern, Reserved))
            {
                errors.Add(entry.Field, $"'{entry.Pattern}' can match the snippet's own names ({Reserved}), which a refusal must never delete.");
                continue;
            }
            // Two required purposes are never refused, so only pairs with an optional purpose matter.
            var other = entries.Take(a).FirstOrDefault(e => e.Purpose != entry.Purpose && !(e.Required && entry.Required) && Overlap(e.Pattern, entry.Pattern));
            if (other is not null)
            {
                errors.Add(entry.Field, $"'{entry.Pattern}' can match the same names as '{other.Pattern}' of purpose '{other.PurposeId}': "
                    + "a name belongs to one purpose, or refusing one would delete what the other was granted.");
            }
        }
    }

    /// <summary>
    /// Whether some name matches both patterns (<c>*</c> matches any run of characters, the rest is
    /// literal and case-sensitive, as cookie names and storage keys are). Two patterns that both have
    /// a star overlap exactly when their literal starts agree (one is a prefix of the other) and their
    /// literal ends agree: the name "longer start + every middle segment of both + longer end" matches
    /// both, the stars absorbing the rest. A literal overlaps a pattern when the pattern matches it.
    /// </summary>
    public static bool Overlap(string a, string b)
    {
        var aStar = a.Contains('*', StringComparison.Ordinal);
        var bStar = b.Contains('*', StringComparison.Ordinal);
        if (!aStar && !bStar) return a == b;
        if (!aStar) return Matches(b, a);
        if (!bStar) return Matches(a, b);
        var aHead = a[..a.IndexOf('*', StringComparison.Ordinal)];
        var bHead = b[..b.IndexOf('*', StringComparison.Ordinal)];
        var aTail = a[(a.LastIndexOf('*') + 1)..];
        var bTail = b[(b.LastIndexOf('*') + 1)..];
        return (aHead.StartsWith(bHead, StringComparison.Ordinal) || bHead.StartsWith(aHead, StringComparison.Ordinal))
            && (aTail.EndsWith(bTail, StringComparison.Ordinal) || bTail.EndsWith(aTail, StringComparison.Ordinal));
    }

    /// <summary>Whether <paramref name="pattern"/> matches <paramref name="name"/>, as the snippet matches them (the classic greedy wildcard walk).</summary>
    public static bool Matches(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, resume = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] != '*' && pattern[p] == name[n])
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = n;
            }
            else if (star >= 0)
            {
                // The last star absorbs one more character; retry from there.
                p = star + 1;
                n = ++resume;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
