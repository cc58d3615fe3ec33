namespace ConsentService.Scans;

/// <summary>The pages of one scan in order: the listed ones, or from a start URL its same-site links, breadth first.</summary>
public static class PageWalk
{
    /// <summary>
    /// Visits each page in the three profiles and appends it to <paramref name="pages"/> (so a cancelled walk
    /// keeps what it did); <paramref name="before"/> runs before each page (progress).
    /// </summary>
    public static async Task RunAsync(
        BrowserProbe probe, IReadOnlyList<string> urls, string? startUrl, int pageLimit,
        List<(string Url, IReadOnlyList<RawVisit> Visits)> pages, Func<string, Task> before, CancellationToken ct)
    {
        var planned = new Queue<string>(startUrl is { } start ? [start] : urls);
        var known = new HashSet<string>(planned, StringComparer.Ordinal);
        while (pages.Count < pageLimit && planned.TryDequeue(out var url))
        {
            await before(url);
            var visits = new List<RawVisit>();
            foreach (var mode in Enum.GetValues<ScanMode>())
            {
                visits.Add(await probe.VisitAsync(new Uri(url), mode, ct));
            }
            pages.Add((url, visits));
            if (startUrl is null) continue;
            // Links as a visitor without a decision sees them; fragments and queries name the same page.
            foreach (var link in visits[0].Links.Select(BrowserProbe.Strip))
            {
                if (SameSite(link, startUrl) && known.Add(link)) planned.Enqueue(link);
            }
        }
    }

    private static bool SameSite(string link, string start) =>
        Uri.TryCreate(link, UriKind.Absolute, out var a) && Uri.TryCreate(start, UriKind.Absolute, out var b)
        && a.Scheme is "http" or "https" && ScanAnalyzer.SiteOf(a.Host) == ScanAnalyzer.SiteOf(b.Host);
}
