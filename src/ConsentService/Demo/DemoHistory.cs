using System.Text.Json.Nodes;
using ConsentService.Caching;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Ledger;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

namespace ConsentService.Demo;

/// <summary>
/// Sixty days of made-up history for the demo site (<c>Demo:SeedHistory</c>, on in Development), so the console
/// has something to show: a few hundred visitors, three policy versions (a wording change, then a material one
/// that asks again), GPC signals, withdrawals, re-consents, two erasures, and a checkpoint.
/// <para>
/// Written through the ledger's own write path (<see cref="ConsentLedger.RecordAsync"/>, <see cref="PolicyCatalog.PublishAsync"/>)
/// with a replay clock that walks from 60 days ago to now: each record is appended in time order, so positions,
/// chains, hashes and recorded times are what they would have been had the visitors come then, and verify
/// passes. Honest about being simulated only in that it runs on a brand-new demo site in Development; the
/// checkpoint is signed with the real clock once the service has started (the signing key registers then).
/// </para>
/// </summary>
public sealed partial class DemoHistory(
    IConsentStore store, IReadCache cache, SubjectCacheKeys cacheKeys, Checkpointer checkpointer, TimeProvider time, ILogger<DemoHistory> logger)
{
    public const int Subjects = 320;
    public static readonly TimeSpan Span = TimeSpan.FromDays(60);

    /// <summary>Creates the site and its history; returns when every record is written.</summary>
    public async Task SeedAsync(string siteId, CancellationToken ct)
    {
        var now = time.Now();
        var clock = new ReplayClock(now - Span);
        var sites = new SiteDirectory(store, cache, clock);
        var policies = new PolicyCatalog(store, cache, clock);
        var ledger = new ConsentLedger(store, cache, cacheKeys, clock);
        var random = new Random(14); // the same story on every fresh start: screenshots stay comparable

        var site = await sites.CreateAsync(new CreateSiteRequest("Demo site", JurisdictionMode: JurisdictionMode.Auto), [], siteId, ct);
        var policy = await policies.PublishAsync(site.Id, DefaultPolicy.Content, material: true, ct);

        // What happens when: each visitor's first decision, and some later ones; two policy changes in between.
        var reworded = DefaultPolicy.Content with
        {
            Texts = DefaultPolicy.Content.Texts.ToDictionary(t => t.Key, t => t.Value with { Title = t.Value.Title + "." }, StringComparer.Ordinal),
        };
        var withVendor = reworded with
        {
            Purposes = [.. reworded.Purposes.Select(p => p.Id == "analytics" ? p with { Vendors = [.. p.Vendors ?? [], new Vendor("Plausible", "https://plausible.io/privacy", [])] } : p)],
        };
        var wordingAt = now - Span + TimeSpan.FromDays(25);
        var materialAt = now - Span + TimeSpan.FromDays(40);
        var events = new List<Event>
        {
            new(wordingAt, null, null, default, "", reworded),
            new(materialAt, null, null, default, "", withVendor),
        };
        var visitors = new List<string>();
        for (var i = 0; i < Subjects; i++)
        {
            var subject = SubjectIds.New();
            var secret = SubjectSecrets.Hash(SubjectSecrets.New());
            var locale = Pick(random, ["en", "en", "de", "fr", "nl"]);
            var first = now - Span + TimeSpan.FromMinutes(10 + random.NextDouble() * (Span.TotalMinutes - 70));
            var method = Pick(random, [ConsentMethod.AcceptAll, ConsentMethod.AcceptAll, ConsentMethod.AcceptAll, ConsentMethod.RejectAll,
                ConsentMethod.RejectAll, ConsentMethod.Custom, ConsentMethod.Custom, ConsentMethod.Gpc]);
            events.Add(new(first, subject, secret, method, locale));
            if (random.NextDouble() < 0.15)
            {
                var withdrawn = first + TimeSpan.FromHours(1 + random.NextDouble() * (now - first - TimeSpan.FromHours(2)).TotalHours);
                events.Add(new(withdrawn, subject, secret, ConsentMethod.Withdraw, locale));
            }
            else if (first < materialAt && random.NextDouble() < 0.45)
            {
                // Asked again after the material change, on the visitor's next visit.
                var again = materialAt + TimeSpan.FromHours(1 + random.NextDouble() * (now - materialAt - TimeSpan.FromHours(2)).TotalHours);
                var next = Pick(random, [ConsentMethod.AcceptAll, ConsentMethod.Custom, ConsentMethod.RejectAll]);
                events.Add(new(again, subject, secret, next, locale));
            }
            visitors.Add(subject);
        }
        // SQLite commits the writes that queue together in one transaction, in the order they were queued, so
        // up to 32 decisions of different visitors go at once and still take positions in time order. Other
        // stores write one at a time.
        var batchLimit = store is Storage.Sqlite.SqliteConsentStore ? 32 : 1;
        var batch = new List<Task>();
        var inBatch = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events.OrderBy(e => e.At))
        {
            if (e.Publish is not null || batch.Count >= batchLimit || inBatch.Contains(e.Subject!))
            {
                await Task.WhenAll(batch);
                batch.Clear();
                inBatch.Clear();
            }
            clock.Set(e.At);
            if (e.Publish is { } content)
            {
                policy = await policies.PublishAsync(site.Id, content, material: null, ct);
                continue;
            }
            inBatch.Add(e.Subject!);
            // Called in order without awaiting: each reads the clock and queues its write before the next call.
            batch.Add(Record(ledger, site, policy, e, random, ct));
        }
        await Task.WhenAll(batch);
        // Two access-and-erasure requests answered near the end: their records stay as shredded proof.
        clock.Set(now - TimeSpan.FromMinutes(30));
        foreach (var subject in visitors.Take(2))
        {
            await ledger.EraseAsync(site.Id, subject, ct);
        }
        LogSeeded(logger, site.Id, Subjects, events.Count - 2);
    }

    /// <summary>Seals the first checkpoint over the history; called once the signing key is registered.</summary>
    public async Task SealAsync(string siteId, CancellationToken ct)
    {
        try
        {
            await checkpointer.SealAsync(siteId, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogSealFailed(logger, e, siteId); // the checkpoint job seals at its next interval instead
        }
    }

    /// <summary>One visitor's decision, or (with <see cref="Publish"/>) a new policy version.</summary>
    private sealed record Event(DateTimeOffset At, string? Subject, byte[]? Secret, ConsentMethod Method, string Locale, PolicyContent? Publish = null);

    private static Task<AppendResult> Record(ConsentLedger ledger, Site site, Policy policy, Event e, Random random, CancellationToken ct)
    {
        var (subject, secret, method, locale) = (e.Subject!, e.Secret!, e.Method, e.Locale);
        var purposes = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var purpose in policy.Content.Purposes)
        {
            purposes[purpose.Id] = purpose.Required || method switch
            {
                ConsentMethod.AcceptAll => true,
                ConsentMethod.Custom => random.NextDouble() < (purpose.Id == "analytics" ? 0.7 : 0.25),
                ConsentMethod.Gpc => purpose.Id == "analytics" && random.NextDouble() < 0.5, // GPC refuses sale/sharing only
                _ => false,
            };
        }
        var page = Pick(random, ["/", "/products", "/pricing", "/blog/cookies-explained", "/checkout"]);
        var source = new ConsentSource("https://demo.example" + page, locale, JsonDefaults.Name(site.JurisdictionMode),
            SourceMinimizer.UserAgent(Pick(random, [
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"])),
            Pick(random, ["203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24", "2001:db8:1234::/48"]));
        var request = new JsonObject
        {
            ["subjectId"] = subject,
            ["policyVersion"] = policy.Version,
            ["method"] = JsonDefaults.Name(method),
            ["purposes"] = new JsonObject(purposes.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
        };
        return ledger.RecordAsync(site.Id, new ConsentDecision(subject, policy, purposes, method, source, null, CanonicalJson.Sha256Hex(request), secret), ct);
    }

    private static T Pick<T>(Random random, T[] choices) => choices[random.Next(choices.Length)];

    /// <summary>A clock the seeding moves by hand, forward only.</summary>
    private sealed class ReplayClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public void Set(DateTimeOffset at) => _now = at > _now ? at : _now;

        public override DateTimeOffset GetUtcNow() => _now;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded demo site '{SiteId}' with 60 days of history: {Subjects} visitors, {Events} decisions and policy changes (Demo:SeedHistory)")]
    private static partial void LogSeeded(ILogger logger, string siteId, int subjects, int events);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not seal the demo site's first checkpoint ({SiteId})")]
    private static partial void LogSealFailed(ILogger logger, Exception exception, string siteId);
}
