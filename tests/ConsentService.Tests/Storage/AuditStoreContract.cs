using ConsentService.Audit;
using ConsentService.Storage;

namespace ConsentService.Tests.Storage;

/// <summary>
/// What every audit store adapter must do; <c>SqliteAuditStoreTests</c> and <c>MongoAuditStoreTests</c>
/// derive from it. Stores are made with an export batch of <see cref="ExportBatch"/> events, so exports
/// here cross several batches.
/// </summary>
public abstract class AuditStoreContract : IAsyncLifetime
{
    protected const int ExportBatch = 3;
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    private IAuditStore? _store;

    protected IAuditStore Store
    {
        get
        {
            Skip.If(_store is null, UnavailableReason);
            return _store!;
        }
    }

    /// <summary>A new, empty, initialised store, or null when its server is not available here.</summary>
    protected abstract Task<IAuditStore?> CreateStoreAsync();

    protected virtual string UnavailableReason => "The store is not available.";

    protected virtual Task DisposeStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public Task DisposeAsync() => DisposeStoreAsync();

    private static AuditEvent Event(
        string siteId, int minute, string action = "GetSite", string? keyId = "key_a", int outcome = 200, IReadOnlyDictionary<string, string>? target = null)
    {
        var at = T0.AddMinutes(minute);
        return new AuditEvent(Guid.CreateVersion7(at).ToString(), siteId, at, keyId, keyId is null ? "operator" : "admin", action,
            target ?? new Dictionary<string, string>(), "req-" + minute, outcome, keyId is null ? null : "203.0.113.0/24", "GET", $"/v1/sites/{siteId}");
    }

    [SkippableFact]
    public async Task Deleting_by_request_id_leaves_tombstones_that_keep_the_first_deletion_and_only_that_sites()
    {
        var events = await AppendAsync(Event("s1", 0), Event("s1", 1, "EraseSubject", target: new Dictionary<string, string> { ["subject"] = "c0ffee" }),
            Event("s2", 1), Event("s1", 2));
        var first = new AuditDeletion(T0.AddDays(1), "key_admin", "admin");

        Assert.True(await Store.TombstoneAsync("s1", "req-1", first, default));
        Assert.True(await Store.TombstoneAsync("s1", "req-1", new AuditDeletion(T0.AddDays(2), null, "operator"), default)); // idempotent
        Assert.False(await Store.TombstoneAsync("s1", "req-9", first, default));
        Assert.False(await Store.TombstoneAsync("s3", "req-1", first, default));

        var s1 = (await Store.QueryAsync("s1", new AuditFilter(), null, 10, default)).Items;
        Assert.Equal([events[3].Id, events[1].Id, events[0].Id], s1.Select(e => e.Id)); // still in its place
        Assert.Equal(events[1].Tombstone(first), s1[1]);
        Assert.Null(s1[1].Action);
        AssertSame(events[3], s1[0]);
        AssertSame(events[0], s1[2]);
        AssertSame(events[2], (await Store.QueryAsync("s2", new AuditFilter(), null, 10, default)).Items.Single()); // another site's event of that request id
        Assert.Equal([events[1].Id], await Store.ExportAsync("s1", new AuditFilter(From: T0.AddMinutes(1), To: T0.AddMinutes(2)), default).Select(e => e.Id).ToListAsync());
        Assert.Empty((await Store.QueryAsync("s1", new AuditFilter(Action: "EraseSubject"), null, 10, default)).Items);
    }

    private async Task<List<AuditEvent>> AppendAsync(params AuditEvent[] events)
    {
        foreach (var e in events)
        {
            await Store.AppendAsync(e, default);
        }
        return [.. events];
    }

    private static void AssertSame(AuditEvent expected, AuditEvent actual)
    {
        Assert.Equal(expected with { Target = actual.Target }, actual);
        Assert.Equal(expected.Target!.OrderBy(t => t.Key), actual.Target!.OrderBy(t => t.Key));
    }

    private static List<string> Ids(IEnumerable<AuditEvent> events) => events.Select(e => e.Id).ToList();

    private static List<string> NewestFirst(IEnumerable<AuditEvent> events) => Ids(events.OrderByDescending(e => e.At));

    [SkippableFact]
    public async Task Events_round_trip_every_field_newest_first_and_per_site()
    {
        var full = Event("s1", 1, "RevokeApiKey", target: new Dictionary<string, string> { ["keyId"] = "key_x", ["version"] = "2" });
        var operatorEvent = Event("s1", 2, "CreateSite", keyId: null, outcome: 201);
        await AppendAsync(full, operatorEvent, Event("s2", 3));

        var page = await Store.QueryAsync("s1", new AuditFilter(), null, 10, default);

        Assert.Equal([operatorEvent.Id, full.Id], Ids(page.Items));
        AssertSame(operatorEvent, page.Items[0]);
        AssertSame(full, page.Items[1]);
        Assert.Null(page.Next);
        Assert.Empty((await Store.QueryAsync("s3", new AuditFilter(), null, 10, default)).Items);
    }

    [SkippableFact]
    public async Task Filters_select_by_action_key_outcome_and_a_half_open_time_range()
    {
        var events = await AppendAsync(
            Event("s1", 0, "GetSite"),
            Event("s1", 10, "IssueApiKey", outcome: 201),
            Event("s1", 20, "IssueApiKey", keyId: "key_b", outcome: 403),
            Event("s1", 30, "GetSite", keyId: null),
            Event("s2", 10, "IssueApiKey", outcome: 201));

        async Task<List<string>> Find(AuditFilter filter) => Ids((await Store.QueryAsync("s1", filter, null, 100, default)).Items);

        Assert.Equal([events[2].Id, events[1].Id], await Find(new AuditFilter(Action: "IssueApiKey")));
        Assert.Equal([events[2].Id], await Find(new AuditFilter(KeyId: "key_b")));
        Assert.Equal([events[1].Id], await Find(new AuditFilter(Outcome: 201)));
        Assert.Equal([events[2].Id, events[1].Id], await Find(new AuditFilter(From: T0.AddMinutes(10), To: T0.AddMinutes(30))));
        Assert.Equal([events[3].Id], await Find(new AuditFilter(From: T0.AddMinutes(30))));
        Assert.Equal([events[0].Id], await Find(new AuditFilter(To: T0.AddMinutes(10))));
        Assert.Equal([events[1].Id], await Find(new AuditFilter(Action: "IssueApiKey", KeyId: "key_a", Outcome: 201, From: T0, To: T0.AddHours(1))));
        Assert.Empty(await Find(new AuditFilter(Action: "Nothing")));
    }

    [SkippableFact]
    public async Task Pages_follow_each_other_without_skipping_or_repeating_while_events_arrive()
    {
        var first = await AppendAsync([.. Enumerable.Range(0, 7).Select(i => Event("s1", i))]);
        var seen = new List<AuditEvent>();

        var page = await Store.QueryAsync("s1", new AuditFilter(), null, 3, default);
        seen.AddRange(page.Items);
        var arrived = await AppendAsync(Event("s1", 100), Event("s1", 101)); // newer than every page still to come
        while (page.Next is not null)
        {
            Assert.Equal(3, page.Items.Count);
            page = await Store.QueryAsync("s1", new AuditFilter(), page.Next, 3, default);
            seen.AddRange(page.Items);
        }

        Assert.Equal(NewestFirst(first), Ids(seen));
        Assert.Equal(NewestFirst([.. first, .. arrived]), Ids((await Store.QueryAsync("s1", new AuditFilter(), null, 100, default)).Items));
    }

    [SkippableFact]
    public async Task A_page_that_ends_exactly_at_the_last_event_has_no_next()
    {
        await AppendAsync([.. Enumerable.Range(0, 4).Select(i => Event("s1", i))]);
        var page = await Store.QueryAsync("s1", new AuditFilter(), null, 2, default);
        Assert.NotNull(page.Next);
        var last = await Store.QueryAsync("s1", new AuditFilter(), page.Next, 2, default);
        Assert.Equal(2, last.Items.Count);
        Assert.Null(last.Next);
    }

    [SkippableFact]
    public async Task Paging_keeps_the_filters_and_the_site()
    {
        var events = await AppendAsync([.. Enumerable.Range(0, 6).Select(i => Event("s1", i, i % 2 == 0 ? "GetSite" : "ListApiKeys")), Event("s2", 3, "GetSite")]);
        var filter = new AuditFilter(Action: "GetSite");

        var first = await Store.QueryAsync("s1", filter, null, 2, default);
        var second = await Store.QueryAsync("s1", filter, first.Next, 2, default);

        Assert.Equal(NewestFirst(events.Where(e => e.SiteId == "s1" && e.Action == "GetSite")), Ids([.. first.Items, .. second.Items]));
        Assert.Null(second.Next);
    }

    [SkippableFact]
    public async Task The_export_streams_every_matching_event_newest_first_across_batches()
    {
        var events = await AppendAsync([.. Enumerable.Range(0, ExportBatch * 3 + 1).Select(i => Event("s1", i, outcome: i % 3 == 0 ? 403 : 200)), Event("s2", 1)]);

        var all = new List<AuditEvent>();
        await foreach (var e in Store.ExportAsync("s1", new AuditFilter(), default)) all.Add(e);
        var denied = new List<AuditEvent>();
        await foreach (var e in Store.ExportAsync("s1", new AuditFilter(Outcome: 403), default)) denied.Add(e);

        Assert.Equal(NewestFirst(events.Where(e => e.SiteId == "s1")), Ids(all));
        AssertSame(events[0], all[^1]);
        Assert.Equal(NewestFirst(events.Where(e => e.SiteId == "s1" && e.Outcome == 403)), Ids(denied));
    }

    [SkippableFact]
    public async Task Retention_deletes_only_that_sites_events_before_the_cutoff()
    {
        var events = await AppendAsync(Event("s1", 0), Event("s1", 5), Event("s1", 10), Event("s2", 0));

        Assert.Equal(2, await Store.DeleteOlderThanAsync("s1", T0.AddMinutes(10), default));
        Assert.Equal(0, await Store.DeleteOlderThanAsync("s1", T0.AddMinutes(10), default));

        Assert.Equal([events[2].Id], Ids((await Store.QueryAsync("s1", new AuditFilter(), null, 10, default)).Items));
        Assert.Equal([events[3].Id], Ids((await Store.QueryAsync("s2", new AuditFilter(), null, 10, default)).Items));
    }

    [SkippableFact]
    public async Task The_sites_with_events_are_listed_once_each()
    {
        Assert.Empty(await Store.ListSiteIdsAsync(default));
        await AppendAsync(Event("s2", 0), Event("s1", 1), Event("s2", 2));
        Assert.Equal(["s1", "s2"], await Store.ListSiteIdsAsync(default));
        Assert.True(await Store.PingAsync(default));
    }

    [SkippableFact]
    public async Task Initializing_again_keeps_the_events()
    {
        var e = (await AppendAsync(Event("s1", 0)))[0];
        await Store.InitializeAsync(default);
        AssertSame(e, (await Store.QueryAsync("s1", new AuditFilter(), null, 1, default)).Items.Single());
    }
}
