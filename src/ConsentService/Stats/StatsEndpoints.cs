using System.Globalization;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Stats;

/// <summary>For one purpose: how many subjects' latest decision in the group granted or refused it.</summary>
public sealed record PurposeStats(long Granted, long Refused, double? OptInRate);

/// <summary>One group (a UTC day or a policy version); <see cref="Methods"/> counts every record, the purposes count subjects.</summary>
public sealed record StatsGroup(string Key, long Records, long Subjects, IReadOnlyDictionary<string, long> Methods, IReadOnlyDictionary<string, PurposeStats> Purposes);

/// <summary><see cref="GroupBy"/>: "day" (UTC) or "policyVersion".</summary>
public sealed record ConsentStats(DateTimeOffset From, DateTimeOffset To, string GroupBy, IReadOnlyList<StatsGroup> Groups, StatsGroup Total);

/// <summary>Opt-in rates and the method mix, from the ledger (streamed: memory grows with subjects, not records).</summary>
public static class StatsEndpoints
{
    /// <summary>The window when only 'to' (or nothing) is given.</summary>
    private const int DefaultDays = 30;

    public static IEndpointRouteBuilder MapStatsEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/sites/{siteId}/stats", Stats)
            .WithTags("Stats")
            .WithName("GetStats")
            .WithSummary("Per purpose, subjects who granted / refused (their latest decision in each group), and the method mix; from inclusive, to exclusive (default: the last 30 days)")
            .RequireSiteRole(SiteRole.Legal);
        return routes;
    }

    private static async Task<Results<Ok<ConsentStats>, ValidationProblem>> Stats(
        string siteId, DateTimeOffset? from, DateTimeOffset? to, string? groupBy, IConsentStore store, TimeProvider time, CancellationToken ct)
    {
        groupBy ??= "day";
        var byDay = groupBy == "day";
        if (!byDay && groupBy != "policyVersion")
        {
            return Problems.Validation("groupBy", "'day' or 'policyVersion'.");
        }
        var end = to ?? time.Now();
        // The default window would start before the first instant a DateTimeOffset holds (a 500 once).
        if (from is null && end < DateTimeOffset.MinValue.AddDays(DefaultDays))
        {
            return Problems.Validation("to", $"Without 'from', 'to' must be at least {DefaultDays} days after 0001-01-01; or give 'from' too.");
        }
        var start = from ?? end.AddDays(-DefaultDays);
        if (start >= end)
        {
            return Problems.Validation("to", "Must be later than 'from'.");
        }
        var groups = new SortedDictionary<string, Tally>(StringComparer.Ordinal);
        var total = new Tally();
        await foreach (var record in store.QueryConsentsAsync(siteId, new ConsentFilter(From: start, To: end), 0, ct))
        {
            var key = byDay
                ? record.RecordedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
                : record.PolicyVersion.ToString("D6", CultureInfo.InvariantCulture); // sorts numerically
            (groups.TryGetValue(key, out var tally) ? tally : groups[key] = new Tally()).Add(record);
            total.Add(record);
        }
        return TypedResults.Ok(new ConsentStats(start, end, groupBy,
            [.. groups.Select(g => g.Value.ToGroup(byDay ? g.Key : int.Parse(g.Key, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)))],
            total.ToGroup("total")));
    }

    /// <summary>Records in ledger order, so each subject's last one seen is its latest.</summary>
    private sealed class Tally
    {
        private readonly Dictionary<string, IReadOnlyDictionary<string, bool>> _latest = new(StringComparer.Ordinal);
        private readonly Dictionary<string, long> _methods = new(StringComparer.Ordinal);
        private long _records;

        public void Add(ConsentRecord record)
        {
            _records++;
            var method = JsonDefaults.Name(record.Method);
            _methods[method] = _methods.GetValueOrDefault(method) + 1;
            _latest[record.SubjectCommitment] = record.Purposes; // the commitment: erased subjects still count
        }

        public StatsGroup ToGroup(string key)
        {
            var purposes = new SortedDictionary<string, (long Granted, long Refused)>(StringComparer.Ordinal);
            foreach (var (id, granted) in _latest.Values.SelectMany(p => p))
            {
                var (g, r) = purposes.GetValueOrDefault(id);
                purposes[id] = granted ? (g + 1, r) : (g, r + 1);
            }
            return new StatsGroup(key, _records, _latest.Count, _methods,
                purposes.ToDictionary(p => p.Key, p => new PurposeStats(p.Value.Granted, p.Value.Refused,
                    p.Value.Granted + p.Value.Refused == 0 ? null : Math.Round((double)p.Value.Granted / (p.Value.Granted + p.Value.Refused), 4)),
                    StringComparer.Ordinal));
        }
    }
}
