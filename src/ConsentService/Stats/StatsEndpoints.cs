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

/// <summary><see cref="GroupBy"/>: "day" (UTC), "week" (ISO weeks, keyed by their Monday, UTC) or "policyVersion".</summary>
public sealed record ConsentStats(DateTimeOffset From, DateTimeOffset To, string GroupBy, IReadOnlyList<StatsGroup> Groups, StatsGroup Total);

/// <summary>
/// One material policy version: of the subjects who had decided before it was published (<see cref="Due"/>),
/// how many have decided again under it or a later version (<see cref="Reconsented"/>).
/// </summary>
public sealed record ReconsentStats(int Version, DateTimeOffset PublishedAt, long Due, long Reconsented, double? Rate);

/// <summary>Re-consent after each material version but the first, as of <see cref="At"/>.</summary>
public sealed record ReconsentReport(DateTimeOffset At, IReadOnlyList<ReconsentStats> Versions);

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
        routes.MapGet("/v1/sites/{siteId}/stats/reconsent", Reconsent)
            .WithTags("Stats")
            .WithName("GetReconsentStats")
            .WithSummary("For each material policy version after the first: subjects who had decided before it, and how many of them decided again under it or later (as of 'at', default now)")
            .RequireSiteRole(SiteRole.Legal);
        return routes;
    }

    private static async Task<Results<Ok<ConsentStats>, ValidationProblem>> Stats(
        string siteId, DateTimeOffset? from, DateTimeOffset? to, string? groupBy, IConsentStore store, TimeProvider time, CancellationToken ct)
    {
        groupBy ??= "day";
        var byVersion = groupBy == "policyVersion";
        if (!byVersion && groupBy is not ("day" or "week"))
        {
            return Problems.Validation("groupBy", "'day', 'week' or 'policyVersion'.");
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
            var key = groupBy switch
            {
                "day" => record.RecordedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                "week" => WeekStart(record.RecordedAt).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                _ => record.PolicyVersion.ToString("D6", CultureInfo.InvariantCulture), // sorts numerically
            };
            (groups.TryGetValue(key, out var tally) ? tally : groups[key] = new Tally()).Add(record);
            total.Add(record);
        }
        return TypedResults.Ok(new ConsentStats(start, end, groupBy,
            [.. groups.Select(g => g.Value.ToGroup(byVersion ? int.Parse(g.Key, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture) : g.Key))],
            total.ToGroup("total")));
    }

    /// <summary>The Monday (UTC) of the ISO week of <paramref name="at"/>.</summary>
    private static DateOnly WeekStart(DateTimeOffset at)
    {
        var day = DateOnly.FromDateTime(at.UtcDateTime);
        return day.AddDays(-(((int)day.DayOfWeek + 6) % 7));
    }

    private static async Task<Results<Ok<ReconsentReport>, ValidationProblem>> Reconsent(
        string siteId, DateTimeOffset? at, IConsentStore store, Policies.PolicyCatalog policies, TimeProvider time, CancellationToken ct)
    {
        var end = at ?? time.Now();
        if (end > DateTimeOffset.MaxValue.AddSeconds(-1))
        {
            return Problems.Validation("at", "Must be before 9999-12-31T23:59:59Z.");
        }
        var material = (await policies.ListAsync(siteId, ct)).Where(p => p.Material && p.PublishedAt <= end).Skip(1).ToList();
        // Per subject (by commitment: erased subjects still count), its first decision and the newest version it decided under.
        var subjects = new Dictionary<string, (DateTimeOffset First, int Newest)>(StringComparer.Ordinal);
        if (material.Count > 0)
        {
            // 'at' itself included: "as of now" counts a decision recorded this millisecond.
            await foreach (var record in store.QueryConsentsAsync(siteId, new ConsentFilter(To: end.AddMilliseconds(1)), 0, ct))
            {
                subjects[record.SubjectCommitment] = subjects.TryGetValue(record.SubjectCommitment, out var seen)
                    ? (seen.First, Math.Max(seen.Newest, record.PolicyVersion))
                    : (record.RecordedAt, record.PolicyVersion);
            }
        }
        return TypedResults.Ok(new ReconsentReport(end, [.. material.Select(policy =>
        {
            var due = subjects.Values.Where(s => s.First < policy.PublishedAt).ToList();
            var again = due.LongCount(s => s.Newest >= policy.Version);
            return new ReconsentStats(policy.Version, policy.PublishedAt, due.Count, again, due.Count == 0 ? null : Math.Round((double)again / due.Count, 4));
        })]));
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
