using System.Security.Cryptography;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;

namespace ConsentService.Tests.Storage;

/// <summary>
/// What every store adapter must do. Each adapter's test class derives from this and supplies a
/// fresh, empty store; the same cases then run against SQLite, MongoDB and whatever comes next.
/// </summary>
public abstract partial class ConsentStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    private IConsentStore? _store;

    /// <summary>The store under test; a test that needs it is skipped, visibly, where the adapter's server is not available.</summary>
    protected IConsentStore Store
    {
        get
        {
            Skip.If(_store is null, UnavailableReason);
            return _store!;
        }
    }

    /// <summary>A new, empty, initialised store, or null when its server is not available here.</summary>
    protected abstract Task<IConsentStore?> CreateStoreAsync();

    protected virtual string UnavailableReason => "The store is not available.";

    protected virtual Task DisposeStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public Task DisposeAsync() => DisposeStoreAsync();

    private static Site NewSite(string id) =>
        new(id, "Shop " + id, ["https://shop.example"], "en", JurisdictionMode.Gdpr, 395, 182, T0, T0);

    [SkippableFact]
    public async Task A_site_round_trips_and_updates_replace_it()
    {
        var site = NewSite("s1");
        await Store.CreateSiteAsync(site, default);
        var stored = await Store.GetSiteAsync("s1", default);
        Assert.NotNull(stored);
        Assert.Equal(site, stored with { AllowedOrigins = site.AllowedOrigins });
        Assert.Equal(site.AllowedOrigins, stored.AllowedOrigins);

        var changed = site with { Name = "Renamed", JurisdictionMode = JurisdictionMode.Ccpa, UpdatedAt = T0.AddHours(1) };
        await Store.UpdateSiteAsync(changed, default);
        var read = await Store.GetSiteAsync("s1", default);
        Assert.Equal("Renamed", read!.Name);
        Assert.Equal(JurisdictionMode.Ccpa, read.JurisdictionMode);
        Assert.Null(await Store.GetSiteAsync("missing", default));
    }

    [SkippableFact]
    public async Task A_site_cookie_domain_is_kept_and_can_be_removed()
    {
        var site = NewSite("cd1") with { CookieDomain = "example.com" };
        await Store.CreateSiteAsync(site, default);
        Assert.Equal("example.com", (await Store.GetSiteAsync("cd1", default))!.CookieDomain);

        await Store.UpdateSiteAsync(site with { CookieDomain = null, UpdatedAt = T0.AddHours(1) }, default);
        Assert.Null((await Store.GetSiteAsync("cd1", default))!.CookieDomain);
    }

    [SkippableFact]
    public async Task A_store_whose_writes_succeed_reports_no_write_failure()
    {
        Assert.Null(await Store.WriteFailureAsync(default));
        await Store.CreateSiteAsync(NewSite("w1"), default);
        Assert.Null(await Store.WriteFailureAsync(default));
        // A write refused for its content (a duplicate id) is the caller's problem, not the storage's.
        await Assert.ThrowsAnyAsync<Exception>(() => Store.CreateSiteAsync(NewSite("w1"), default));
        Assert.Null(await Store.WriteFailureAsync(default));
        Assert.NotNull(await Store.GetSiteAsync("w1", default));
    }

    [SkippableFact]
    public async Task Api_keys_are_found_by_hash_listed_per_site_and_revoked_once()
    {
        var a = new ApiKey("key_a", "s1", SiteRole.Legal, "legal team", "csk_…abcd", "hash-a", T0, null);
        var b = new ApiKey("key_b", "s2", SiteRole.Check, null, "csk_…efgh", "hash-b", T0, null);
        await Store.AddApiKeyAsync(a, default);
        await Store.AddApiKeyAsync(b, default);

        Assert.Equal(a, await Store.FindApiKeyByHashAsync("hash-a", default));
        Assert.Null(await Store.FindApiKeyByHashAsync("hash-x", default));
        Assert.Equal(["key_a"], (await Store.ListApiKeysAsync("s1", default)).Select(k => k.Id));

        Assert.False(await Store.RevokeApiKeyAsync("s1", "key_b", T0, default)); // another site's key
        Assert.True(await Store.RevokeApiKeyAsync("s1", "key_a", T0.AddMinutes(1), default));
        Assert.True(await Store.RevokeApiKeyAsync("s1", "key_a", T0.AddMinutes(2), default));
        Assert.Equal(T0.AddMinutes(1), (await Store.FindApiKeyByHashAsync("hash-a", default))!.RevokedAt);
        Assert.Null((await Store.FindApiKeyByHashAsync("hash-b", default))!.RevokedAt);
    }

    [SkippableFact]
    public async Task Policies_get_consecutive_versions_built_from_the_latest()
    {
        Policy? seenByFirst = null, seenBySecond = null;
        var first = await Store.PublishPolicyAsync("s1", latest =>
        {
            seenByFirst = latest;
            return new Policy("s1", 1, T0, "h1", true, DefaultPolicy.Content);
        }, default);
        await Store.PublishPolicyAsync("s1", latest =>
        {
            seenBySecond = latest;
            return new Policy("s1", latest!.Version + 1, T0.AddDays(1), "h2", false, DefaultPolicy.Content);
        }, default);

        Assert.Null(seenByFirst);
        Assert.Equal(1, seenBySecond!.Version);
        var list = await Store.ListPoliciesAsync("s1", default);
        Assert.Equal([1, 2], list.Select(p => p.Version));
        Assert.Equal(first.ContentHash, list[0].ContentHash);
        Assert.False(list[1].Material);
        Assert.Equal(
            PolicyCatalog.ContentHash(DefaultPolicy.Content),
            PolicyCatalog.ContentHash(list[1].Content)); // content survives the round trip exactly
        Assert.Empty(await Store.ListPoliciesAsync("s2", default));
    }

    [SkippableFact]
    public async Task Appends_extend_one_chain_per_subject_and_round_trip_every_field()
    {
        var first = await AppendAsync("s1", "alice", ConsentMethod.AcceptAll);
        var second = await AppendAsync("s1", "alice", ConsentMethod.Withdraw);
        var other = await AppendAsync("s1", "bob", ConsentMethod.RejectAll);

        Assert.Equal(1, first.Sequence);
        Assert.Equal(2, second.Sequence);
        Assert.Equal(first.Hash, second.PrevHash);
        Assert.Equal(1, other.Sequence);
        Assert.Null(other.PrevHash);

        var history = await Store.GetHistoryAsync("s1", "alice", default);
        Assert.Equal(2, history.Count);
        AssertSameRecord(first, history[0]);
        AssertSameRecord(second, history[1]);
        AssertSameRecord(second, (await Store.GetCurrentConsentAsync("s1", "alice", default))!);
        Assert.Null(await Store.GetCurrentConsentAsync("s1", "carol", default));
        Assert.Empty(await Store.GetHistoryAsync("s2", "alice", default));
    }

    [SkippableFact]
    public async Task A_subject_keeps_one_key_across_its_records()
    {
        var keys = new List<byte[]>();
        var (aliceKey, bobKey) = (NewKey(), NewKey());
        await AppendAsync("s1", "alice", ConsentMethod.AcceptAll, head => keys.Add(head.SubjectKey), newKey: aliceKey);
        await AppendAsync("s1", "alice", ConsentMethod.RejectAll, head => keys.Add(head.SubjectKey)); // offered another key: keeps its own
        await AppendAsync("s1", "bob", ConsentMethod.RejectAll, head => keys.Add(head.SubjectKey), newKey: bobKey);

        Assert.Equal([aliceKey, aliceKey, bobKey], keys); // a new subject takes the key offered, an existing one keeps its own
    }

    [SkippableFact]
    public async Task An_idempotency_key_returns_the_first_record_and_writes_nothing()
    {
        var first = await AppendAsync("s1", "alice", ConsentMethod.AcceptAll, idempotencyKey: "retry-1");
        var built = false;
        var again = await Store.AppendConsentAsync("s1", "someone-else", "retry-1", null, NewKey(), head =>
        {
            built = true;
            return Record("s1", "someone-else", head, ConsentMethod.RejectAll, "retry-1");
        }, default);

        Assert.False(again.Created);
        Assert.False(built);
        AssertSameRecord(first, again.Record);
        Assert.Empty(await Store.GetHistoryAsync("s1", "someone-else", default));
        // Keys are scoped to a site.
        Assert.True((await Store.AppendConsentAsync("s2", "alice", "retry-1", null, NewKey(), head => Record("s2", "alice", head, ConsentMethod.AcceptAll, "retry-1"), default)).Created);
    }

    private static readonly byte[] SecretA = SHA256.HashData("secret A"u8);
    private static readonly byte[] SecretB = SHA256.HashData("secret B"u8);

    private Task<AppendResult> AppendAsAsync(string siteId, string subjectId, byte[]? secretHash, string? idempotencyKey = null) =>
        Store.AppendConsentAsync(siteId, subjectId, idempotencyKey, secretHash, NewKey(), head => Record(siteId, subjectId, head, ConsentMethod.Custom, idempotencyKey), default);

    [SkippableFact]
    public async Task The_first_anonymous_append_sets_the_write_secret_and_every_later_one_must_match()
    {
        Assert.True((await AppendAsAsync("s1", "alice", SecretA, "k1")).Created);
        var built = false;
        await Assert.ThrowsAsync<SubjectSecretMismatchException>(() => Store.AppendConsentAsync("s1", "alice", null, SecretB, NewKey(), head =>
        {
            built = true;
            return Record("s1", "alice", head, ConsentMethod.Withdraw, null);
        }, default));
        Assert.False(built);
        // Checked before the idempotency key: another secret with the same key is refused, not replayed.
        await Assert.ThrowsAsync<SubjectSecretMismatchException>(() => AppendAsAsync("s1", "alice", SecretB, "k1"));
        Assert.Single(await Store.GetHistoryAsync("s1", "alice", default));

        Assert.True((await AppendAsAsync("s1", "alice", SecretA)).Created);
        Assert.True((await AppendAsAsync("s1", "alice", null)).Created, "a back end (no secret presented) is not asked");
        Assert.Equal(3, (await Store.GetHistoryAsync("s1", "alice", default)).Count);
        // Secrets are per subject, and per site.
        Assert.True((await AppendAsAsync("s1", "bob", SecretB)).Created);
        Assert.True((await AppendAsAsync("s2", "alice", SecretB)).Created);
        await Assert.ThrowsAsync<SubjectSecretMismatchException>(() => AppendAsAsync("s1", "alice", SecretB));
    }

    [SkippableFact]
    public async Task A_subject_without_a_secret_takes_the_first_one_presented_and_erasure_forgets_it()
    {
        Assert.True((await AppendAsAsync("s1", "carol", null)).Created); // a back end, or a record from before write secrets
        Assert.True((await AppendAsAsync("s1", "carol", SecretA)).Created);
        await Assert.ThrowsAsync<SubjectSecretMismatchException>(() => AppendAsAsync("s1", "carol", SecretB));
        Assert.True((await AppendAsAsync("s1", "carol", null)).Created);
        await Assert.ThrowsAsync<SubjectSecretMismatchException>(() => AppendAsAsync("s1", "carol", SecretB)); // a back end's write keeps the secret

        Assert.NotNull(await Store.EraseSubjectAsync("s1", "carol", default));
        var again = await AppendAsAsync("s1", "carol", SecretB);
        Assert.True(again.Created);
        Assert.Equal(1, again.Record.Sequence);
    }

    [SkippableFact]
    public async Task Concurrent_appends_for_one_subject_leave_no_gap_and_no_duplicate()
    {
        const int writers = 40;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(() => AppendAsync("s1", "alice", ConsentMethod.Custom))));

        var history = await Store.GetHistoryAsync("s1", "alice", default);
        Assert.Equal(Enumerable.Range(1, writers).Select(i => (long)i), history.Select(r => r.Sequence));
        for (var i = 1; i < history.Count; i++)
        {
            Assert.Equal(history[i - 1].Hash, history[i].PrevHash);
        }
    }

    [SkippableFact]
    public async Task Positions_number_each_site_ledger_and_queries_filter_and_resume_after_a_position()
    {
        var a1 = await AppendAsync("s1", "alice", ConsentMethod.AcceptAll);
        var b1 = await AppendAsync("s1", "bob", ConsentMethod.RejectAll);
        var a2 = await AppendAsync("s1", "alice", ConsentMethod.Withdraw);
        var other = await AppendAsync("s2", "alice", ConsentMethod.AcceptAll);
        Assert.Equal([1L, 2, 3, 1], new[] { a1, b1, a2, other }.Select(r => r.Position));

        async Task<string[]> Ids(ConsentFilter filter, long after = 0)
        {
            var ids = new List<string>();
            await foreach (var record in Store.QueryConsentsAsync("s1", filter, after, default)) ids.Add(record.Id);
            return [.. ids];
        }
        Assert.Equal([a1.Id, b1.Id, a2.Id], await Ids(new()));
        Assert.Equal([b1.Id, a2.Id], await Ids(new(), after: 1));
        Assert.Equal([a1.Id, a2.Id], await Ids(new(SubjectId: "alice")));
        Assert.Equal([b1.Id], await Ids(new(Method: ConsentMethod.RejectAll)));
        Assert.Equal([a1.Id], await Ids(new(Purpose: "analytics", Granted: true)));
        Assert.Equal([b1.Id, a2.Id], await Ids(new(Purpose: "analytics", Granted: false)));
        Assert.Equal([a1.Id, b1.Id, a2.Id], await Ids(new(Purpose: "marketing")));
        Assert.Empty(await Ids(new(Purpose: "model_improvement")));
        Assert.Equal([a1.Id, b1.Id, a2.Id], await Ids(new(PolicyVersion: 1)));
        Assert.Empty(await Ids(new(PolicyVersion: 2)));
        Assert.Equal([a2.Id], await Ids(new(From: T0.AddSeconds(1)))); // records are made at T0 + their subject's sequence - 1
        Assert.Equal([a1.Id, b1.Id], await Ids(new(To: T0.AddSeconds(1))));

        AssertSameRecord(a2, (await Store.GetConsentAsync("s1", a2.Id, default))!);
        Assert.Null(await Store.GetConsentAsync("s2", a2.Id, default));
    }

    [SkippableFact]
    public async Task Chains_are_read_one_subject_after_another_in_sequence_order()
    {
        foreach (var subject in new[] { "alice", "bob", "alice", "carol", "bob", "alice" })
        {
            await AppendAsync("s1", subject, ConsentMethod.Custom);
        }
        var chains = new List<(string Commitment, long Sequence)>();
        await foreach (var link in Store.ReadChainsAsync("s1", default)) chains.Add((link.Record.SubjectCommitment, link.Record.Sequence));

        Assert.Equal(6, chains.Count);
        Assert.Equal(3, chains.Select(c => c.Commitment).Distinct().Count());
        var grouped = chains.Select((c, i) => (c, i)).GroupBy(x => x.c.Commitment).ToList();
        Assert.All(grouped, g =>
        {
            Assert.Equal(Enumerable.Range(g.First().i, g.Count()), g.Select(x => x.i)); // contiguous
            Assert.Equal(Enumerable.Range(1, g.Count()).Select(i => (long)i), g.Select(x => x.c.Sequence));
        });
    }

    [SkippableFact]
    public async Task Each_chain_link_carries_the_key_and_head_of_the_subject_it_names_until_erasure()
    {
        foreach (var subject in new[] { "alice", "bob", "alice" })
        {
            await AppendAsync("s1", subject, ConsentMethod.Custom);
        }
        await Store.EraseSubjectAsync("s1", "bob", default);
        var links = new List<ChainLink>();
        await foreach (var link in Store.ReadChainsAsync("s1", default)) links.Add(link);

        Assert.Null(links.Single(l => l.Record.SubjectId is null).Subject); // erased: no key left to join
        var alice = links.Where(l => l.Record.SubjectId == "alice").ToList();
        Assert.Equal(2, alice.Count);
        Assert.All(alice, l =>
        {
            Assert.Equal(l.Record.SubjectCommitment, ConsentChain.Commit(l.Subject!.SubjectKey, "alice"));
            Assert.Equal(l.Record.SourceCommitment, ConsentChain.CommitSource(l.Subject.SubjectKey, l.Record.Source));
            Assert.Equal((alice[1].Record.Id, 2L, alice[1].Record.Hash), (l.Subject.RecordId, l.Subject.Sequence, l.Subject.Hash));
        });
    }

    [SkippableFact]
    public async Task The_ledger_head_follows_every_append_and_survives_erasure()
    {
        Assert.Equal(new LedgerHead(0, null), await Store.GetLedgerHeadAsync("s1", default));
        await AppendAsync("s1", "alice", ConsentMethod.AcceptAll);
        var last = await AppendAsync("s1", "bob", ConsentMethod.RejectAll);
        await AppendAsync("s2", "alice", ConsentMethod.AcceptAll);

        Assert.Equal(new LedgerHead(2, last.Hash), await Store.GetLedgerHeadAsync("s1", default));
        await Store.EraseSubjectAsync("s1", "bob", default);
        Assert.Equal(new LedgerHead(2, last.Hash), await Store.GetLedgerHeadAsync("s1", default));
        Assert.Equal(1, (await Store.GetLedgerHeadAsync("s2", default)).Size);
    }

    [SkippableFact]
    public async Task Appends_sent_together_take_gap_free_positions_and_a_refused_one_moves_neither_them_nor_the_ledger_head()
    {
        Assert.True((await AppendAsAsync("s1", "alice", SecretA)).Created);
        // Sent at once (on SQLite they share commits); alice's, with the wrong secret, is refused in the middle and at the end.
        Task<AppendResult> Refused() => AppendAsAsync("s1", "alice", SecretB);
        var appends = Enumerable.Range(0, 40).Select(i => AppendAsAsync(i % 2 == 0 ? "s1" : "s2", $"visitor-{i}", SecretA))
            .Append(Refused()).Concat(Enumerable.Range(40, 20).Select(i => AppendAsAsync("s1", $"visitor-{i}", SecretA))).Append(Refused()).ToList();
        await Assert.ThrowsAnyAsync<SubjectSecretMismatchException>(() => Task.WhenAll(appends));

        var created = appends.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result.Record).ToList();
        Assert.Equal(60, created.Count);
        Assert.Equal(2, appends.Count(t => t.IsFaulted));
        foreach (var site in created.GroupBy(r => r.SiteId))
        {
            var positions = site.Select(r => r.Position).Order().ToList();
            var first = site.Key == "s1" ? 2 : 1; // alice's first record took position 1 of s1
            Assert.Equal(Enumerable.Range(first, positions.Count).Select(p => (long)p), positions);
            Assert.Equal(new LedgerHead(positions[^1], site.MaxBy(r => r.Position)!.Hash), await Store.GetLedgerHeadAsync(site.Key, default));
        }
    }

    [SkippableFact]
    public async Task The_current_consent_is_the_last_record_of_the_subjects_chain_by_commitment()
    {
        var granted = await AppendAsync("s1", "alice", ConsentMethod.AcceptAll);
        var withdrawn = await AppendAsync("s1", "alice", ConsentMethod.Withdraw);
        await AppendAsync("s1", "bob", ConsentMethod.AcceptAll);

        AssertSameRecord(withdrawn, (await Store.GetCurrentConsentAsync("s1", "alice", default))!);
        Assert.NotEqual(granted.Id, (await Store.GetCurrentConsentAsync("s1", "alice", default))!.Id);
        Assert.Null(await Store.GetCurrentConsentAsync("s2", "alice", default));
    }

    [SkippableFact]
    public async Task Erasure_forgets_the_subject_and_its_personal_fields_but_keeps_every_hash()
    {
        await AppendAsync("s1", "alice", ConsentMethod.AcceptAll, idempotencyKey: "k1");
        var last = await AppendAsync("s1", "alice", ConsentMethod.Withdraw);
        var bob = await AppendAsync("s1", "bob", ConsentMethod.RejectAll);

        Assert.Equal(last.Position, await Store.EraseSubjectAsync("s1", "alice", default));
        Assert.Empty(await Store.GetHistoryAsync("s1", "alice", default));
        Assert.Null(await Store.GetCurrentConsentAsync("s1", "alice", default));
        var ledger = new List<ConsentRecord>();
        await foreach (var record in Store.QueryConsentsAsync("s1", new(), 0, default)) ledger.Add(record);
        var erased = ledger.Where(r => r.Id != bob.Id).ToList();
        Assert.Equal(2, erased.Count);
        Assert.All(erased, r =>
        {
            Assert.Null(r.SubjectId);
            Assert.Null(r.Source);
            Assert.Null(r.IdempotencyKey);
            Assert.Null(r.RequestHash);
            Assert.Equal(r.Hash, ConsentChain.Hash(r)); // the chain still verifies without them
        });
        AssertSameRecord(bob, ledger.Single(r => r.Id == bob.Id));

        Assert.Null(await Store.EraseSubjectAsync("s1", "alice", default));
        Assert.Null(await Store.EraseSubjectAsync("s1", "nobody", default));
        var again = await AppendAsync("s1", "alice", ConsentMethod.AcceptAll, idempotencyKey: "k1"); // the key is free again
        Assert.Equal((1L, 4L), (again.Sequence, again.Position));
        Assert.NotEqual(erased[0].SubjectCommitment, again.SubjectCommitment); // a new key: nothing links it to the erased chain
    }

    [SkippableFact]
    public async Task Idle_subjects_are_those_whose_last_record_is_older_than_the_cutoff()
    {
        await AppendAsync("s1", "alice", ConsentMethod.AcceptAll); // T0
        await AppendAsync("s1", "alice", ConsentMethod.Withdraw);  // T0 + 1 s
        await AppendAsync("s1", "bob", ConsentMethod.RejectAll);   // T0

        async Task<string[]> Idle(DateTimeOffset cutoff)
        {
            var subjects = new List<string>();
            await foreach (var subject in Store.SubjectsIdleSinceAsync("s1", cutoff, default)) subjects.Add(subject);
            return [.. subjects.Order()];
        }
        Assert.Empty(await Idle(T0));
        Assert.Equal(["bob"], await Idle(T0.AddSeconds(1)));
        Assert.Equal(["alice", "bob"], await Idle(T0.AddSeconds(2)));
    }

    [SkippableFact]
    public async Task The_newest_recorded_at_of_a_site_is_its_latest_record_and_survives_an_erasure()
    {
        Assert.Null(await Store.NewestRecordedAtAsync("s1", default));
        await AppendAsync("s1", "alice", ConsentMethod.AcceptAll); // T0
        await AppendAsync("s1", "alice", ConsentMethod.Withdraw);  // T0 + 1 s
        await AppendAsync("s1", "bob", ConsentMethod.RejectAll);   // T0
        await AppendAsync("s2", "carol", ConsentMethod.RejectAll);
        Assert.Equal(T0.AddSeconds(1), await Store.NewestRecordedAtAsync("s1", default));
        Assert.NotNull(await Store.NewestRecordedAtAsync("s2", default));
        Assert.Null(await Store.NewestRecordedAtAsync("s3", default));

        // Shredding keeps the records (only their personal fields go), so the clock check still sees them.
        await Store.EraseSubjectAsync("s1", "alice", default);
        Assert.Equal(T0.AddSeconds(1), await Store.NewestRecordedAtAsync("s1", default));
    }

    [SkippableFact]
    public async Task Checkpoints_are_kept_once_per_tree_size_in_size_order_and_sites_are_listed()
    {
        var two = new Checkpoint("s1", 2, "root2", T0, "jws2");
        Assert.True(await Store.AddCheckpointAsync(new Checkpoint("s1", 5, "root5", T0.AddMinutes(5), "jws5"), default));
        Assert.True(await Store.AddCheckpointAsync(two, default));
        Assert.False(await Store.AddCheckpointAsync(two with { RootHash = "other" }, default));
        Assert.Equal([two, new Checkpoint("s1", 5, "root5", T0.AddMinutes(5), "jws5")], await Store.ListCheckpointsAsync("s1", default));
        Assert.Empty(await Store.ListCheckpointsAsync("s2", default));

        await Store.CreateSiteAsync(NewSite("s2"), default);
        await Store.CreateSiteAsync(NewSite("s1"), default);
        Assert.Equal(["s1", "s2"], await Store.ListSiteIdsAsync(default));
    }

    [SkippableFact]
    public async Task Scans_round_trip_with_their_report_replace_by_id_list_newest_first_per_site_and_unfinished_ones_across_sites()
    {
        var report = new ConsentService.Scans.ScanReport("s1", 2, T0, new ConsentService.Scans.CatalogueInfo("OCD", "Apache-2.0", "src", "v", 3), ["https://shop.example/"],
            [new ConsentService.Scans.PageVisit("https://shop.example/", Scans.ScanMode.Rejected, true, null,
                [new ConsentService.Scans.SeenCookie("_ga", ".shop.example", "/", T0.AddDays(1), false, "https://t.example/ga.js", "Google Analytics", "analytics", "policy", null, false)],
                [new ConsentService.Scans.SeenRequest("https://t.example/collect", "t.example", "fetch", "https://t.example/ga.js", true, "Google Analytics", "analytics", "policy", null, false)],
                ["ls"], [], ["default {}"])],
            [new ConsentService.Scans.Violation("Google Analytics", "analytics", "policy", [ConsentService.Scans.ScanMode.Rejected], ["_ga"], ["t.example"], ["https://shop.example/"])],
            [], [new ConsentService.Scans.DeclaredUnseen("Hotjar", "marketing", ["_hj*"])], null);
        var first = new ConsentService.Scans.Scan("scn_1", "s1", ConsentService.Scans.ScanStatus.Queued, T0, ["https://shop.example/"], null, 1, 0);
        var second = new ConsentService.Scans.Scan("scn_2", "s1", ConsentService.Scans.ScanStatus.Running, T0.AddMinutes(1), [], "https://shop.example/", 5, 1, T0.AddMinutes(1), CurrentUrl: "https://shop.example/a");
        var other = new ConsentService.Scans.Scan("scn_3", "s2", ConsentService.Scans.ScanStatus.Queued, T0.AddMinutes(2), ["https://other.example/"], null, 1, 0);
        await Store.SaveScanAsync(first, default);
        await Store.SaveScanAsync(second, default);
        await Store.SaveScanAsync(other, default);
        Assert.Equal(["scn_1", "scn_2", "scn_3"], (await Store.ListUnfinishedScansAsync(default)).Select(s => s.Id));

        var done = first with { Status = ConsentService.Scans.ScanStatus.Completed, PagesDone = 1, FinishedAt = T0.AddMinutes(3), Report = report };
        await Store.SaveScanAsync(done, default);
        var read = await Store.GetScanAsync("s1", "scn_1", default);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(done, JsonDefaults.Options), System.Text.Json.JsonSerializer.Serialize(read, JsonDefaults.Options));
        Assert.Null(await Store.GetScanAsync("s2", "scn_1", default)); // another site's scan is not found
        Assert.Equal(["scn_2", "scn_1"], (await Store.ListScansAsync("s1", 10, default)).Select(s => s.Id));
        Assert.Equal(["scn_2"], (await Store.ListScansAsync("s1", 1, default)).Select(s => s.Id));
        Assert.Equal(["scn_2", "scn_3"], (await Store.ListUnfinishedScansAsync(default)).Select(s => s.Id));
    }

    [SkippableFact]
    public async Task A_deployment_secret_is_the_first_one_stored_however_many_instances_race_to_add_one()
    {
        var candidates = Enumerable.Range(0, 8).Select(_ => System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToList();
        var answers = await Task.WhenAll(candidates.Select(c => Store.GetOrAddSecretAsync("cache", c, default)));
        Assert.All(answers, a => Assert.Equal(answers[0], a));
        Assert.Contains(candidates, c => c.AsSpan().SequenceEqual(answers[0]));
        Assert.Equal(answers[0], await Store.GetOrAddSecretAsync("cache", new byte[32], default));
        var other = await Store.GetOrAddSecretAsync("other", candidates[7], default);
        Assert.Equal(candidates[7], other);
    }

    protected static byte[] NewKey() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    private async Task<ConsentRecord> AppendAsync(
        string siteId, string subjectId, ConsentMethod method, Action<ChainHead>? observe = null, string? idempotencyKey = null, byte[]? newKey = null)
    {
        var result = await Store.AppendConsentAsync(siteId, subjectId, idempotencyKey, null, newKey ?? NewKey(), head =>
        {
            observe?.Invoke(head);
            return Record(siteId, subjectId, head, method, idempotencyKey);
        }, default);
        Assert.True(result.Created);
        return result.Record;
    }

    private static SigningKey Key(string kid, int day) => new(kid, "x-" + kid, "y-" + kid, T0.AddDays(day));

    [SkippableFact]
    public async Task The_first_signing_key_registers_as_active_and_another_takes_over_only_by_a_declared_rotation()
    {
        Assert.Empty(await Store.ListSigningKeysAsync(default));
        Assert.Equal(Key("k1", 0), await Store.ActivateSigningKeyAsync(Key("k1", 0), new HashSet<string>(), default));
        Assert.Equal(Key("k1", 0), await Store.ActivateSigningKeyAsync(Key("k1", 5), new HashSet<string>(), default)); // a restart changes nothing

        // Another key without a declared rotation: the active key stays, the other is not stored.
        Assert.Equal(Key("k1", 0), await Store.ActivateSigningKeyAsync(Key("k2", 1), new HashSet<string> { "k0" }, default));
        Assert.Equal(["k1"], (await Store.ListSigningKeysAsync(default)).Select(k => k.Kid));

        // Declared: k1 retires when k2 starts, k2 is active.
        Assert.Equal(Key("k2", 2), await Store.ActivateSigningKeyAsync(Key("k2", 2), new HashSet<string> { "k1" }, default));
        Assert.Equal([Key("k1", 0) with { RetiredAt = T0.AddDays(2) }, Key("k2", 2)], await Store.ListSigningKeysAsync(default));

        // A retired key never becomes active again, even when the active one is declared retired.
        Assert.Equal(Key("k2", 2), await Store.ActivateSigningKeyAsync(Key("k1", 3), new HashSet<string> { "k2" }, default));
        Assert.Single(await Store.ListSigningKeysAsync(default), k => k.IsActive);
    }

    [SkippableFact]
    public async Task Two_instances_registering_different_keys_at_once_leave_exactly_one_active()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Store.ActivateSigningKeyAsync(Key($"k{i}", 0), new HashSet<string>(), default)));
        var keys = await Store.ListSigningKeysAsync(default);
        var active = Assert.Single(keys);
        Assert.All(results, r => Assert.Equal(active, r));
    }

    [SkippableFact]
    public async Task A_signing_key_is_marked_compromised_from_a_time_and_an_unknown_kid_is_reported()
    {
        await Store.ActivateSigningKeyAsync(Key("k1", 0), new HashSet<string>(), default);
        Assert.True(await Store.MarkSigningKeyCompromisedAsync("k1", T0.AddHours(3), default));
        Assert.False(await Store.MarkSigningKeyCompromisedAsync("nope", T0, default));
        Assert.Equal(Key("k1", 0) with { CompromisedAt = T0.AddHours(3) }, Assert.Single(await Store.ListSigningKeysAsync(default)));
    }

    protected static ConsentRecord Record(string siteId, string subjectId, ChainHead head, ConsentMethod method, string? idempotencyKey)
    {
        var at = Clock.Truncate(T0.AddSeconds(head.Sequence));
        var granted = method == ConsentMethod.AcceptAll;
        var source = new ConsentSource("https://shop.example/cart", "de-AT", "gdpr", "Firefox 140 (Linux)", "203.0.113.0/24");
        var record = new ConsentRecord(
            Guid.CreateVersion7(at).ToString(), siteId, subjectId, ConsentChain.Commit(head.SubjectKey, subjectId),
            head.Sequence + 1, head.Position, 1, "policy-hash",
            new Dictionary<string, bool> { ["necessary"] = true, ["analytics"] = granted, ["marketing"] = false },
            method, source, ConsentChain.CommitSource(head.SubjectKey, source), at, idempotencyKey, "request-hash", head.Hash, "");
        return record with { Hash = ConsentChain.Hash(record) };
    }

    private static void AssertSameRecord(ConsentRecord expected, ConsentRecord actual)
    {
        Assert.Equal(expected with { Purposes = actual.Purposes }, actual);
        Assert.Equal(expected.Purposes, actual.Purposes);
        Assert.Equal(expected.Hash, ConsentChain.Hash(actual)); // what was read still hashes to what was written
    }

    // ---- webhooks: the outbox ------------------------------------------------------------------

    private IWebhookStore Webhooks => Store;

    private static ConsentService.Webhooks.WebhookEndpoint Endpoint(string id, string siteId, params string[] events) =>
        new(id, siteId, "https://hooks.example/" + id, events, null, "whsec_" + Convert.ToBase64String(new byte[32]), T0);

    private async Task<IReadOnlyList<ConsentService.Webhooks.LeasedDelivery>> LeaseAsync(string owner, DateTimeOffset now) =>
        await Webhooks.LeaseWebhookDeliveriesAsync(owner, now, TimeSpan.FromMinutes(2), 10, default);

    private Task SettleAsync(ConsentService.Webhooks.LeasedDelivery d, DateTimeOffset at, bool delivered, DateTimeOffset? next = null, string? disable = null) =>
        Webhooks.CompleteWebhookDeliveryAsync(new(d.MessageId, d.EndpointId, d.Type, "w", at, delivered, delivered ? 200 : 500,
            delivered ? null : "500", next, disable), default);

    [SkippableFact]
    public async Task An_append_queues_its_message_for_each_enabled_endpoint_subscribed_to_it_and_for_no_other()
    {
        await Store.CreateSiteAsync(NewSite("s1"), default);
        await Webhooks.AddWebhookEndpointAsync(Endpoint("e1", "s1", "consent.recorded"), default);
        await Webhooks.AddWebhookEndpointAsync(Endpoint("e2", "s1", "policy.published"), default);
        await Webhooks.AddWebhookEndpointAsync(Endpoint("e3", "s1", "consent.recorded") with { DisabledAt = T0, DisabledReason = "off" }, default);
        await Webhooks.AddWebhookEndpointAsync(Endpoint("e4", "s2", "consent.recorded"), default);
        var appended = await AppendAsAsync("s1", "alice", null);

        var leased = Assert.Single(await LeaseAsync("w1", T0.AddHours(1)));
        Assert.Equal(("e1", "consent.recorded", "s1"), (leased.EndpointId, leased.Type, leased.SiteId));
        Assert.Contains("\"subjectId\":\"alice\"", leased.Payload);
        Assert.Contains($"\"position\":{appended.Record.Position}", leased.Payload);
        Assert.Empty(await LeaseAsync("w2", T0.AddHours(1))); // held by w1
        Assert.Single(await LeaseAsync("w2", T0.AddHours(1).AddMinutes(3))); // w1's lease ran out
        Assert.Equal(["e1", "e2", "e3"], (await Webhooks.ListWebhookEndpointsAsync("s1", default)).Select(e => e.Id));
    }

    [SkippableFact]
    public async Task A_subjects_later_message_waits_until_its_earlier_one_is_settled_and_a_failure_waits_for_its_next_attempt()
    {
        await Store.CreateSiteAsync(NewSite("s1"), default);
        await Webhooks.AddWebhookEndpointAsync(Endpoint("e1", "s1", "consent.recorded"), default);
        await AppendAsAsync("s1", "alice", null);
        await AppendAsAsync("s1", "alice", null);
        await AppendAsAsync("s1", "bob", null);
        var now = T0.AddHours(1);

        var first = await LeaseAsync("w1", now);
        Assert.Equal(2, first.Count); // alice's first and bob's: alice's second waits
        var aliceFirst = first.Single(d => d.Payload!.Contains("alice"));
        await SettleAsync(first.Single(d => d.Payload!.Contains("bob")), now, delivered: true);
        await SettleAsync(aliceFirst, now, delivered: false, next: now.AddMinutes(1));
        Assert.Empty(await LeaseAsync("w1", now.AddSeconds(30)));
        Assert.Equal("e1", (await Webhooks.GetWebhookEndpointAsync("s1", "e1", default))!.Id);
        Assert.Equal(now, (await Webhooks.GetWebhookEndpointAsync("s1", "e1", default))!.FailingSince);

        var retried = Assert.Single(await LeaseAsync("w1", now.AddMinutes(2)));
        Assert.Equal(aliceFirst.MessageId, retried.MessageId);
        Assert.Equal(1, retried.Attempts);
        await SettleAsync(retried, now.AddMinutes(2), delivered: true);
        var second = Assert.Single(await LeaseAsync("w1", now.AddMinutes(2)));
        Assert.Contains("alice", second.Payload);
        Assert.NotEqual(aliceFirst.MessageId, second.MessageId);
        Assert.Null((await Webhooks.GetWebhookEndpointAsync("s1", "e1", default))!.FailingSince);
    }

    [SkippableFact]
    public async Task Erasure_removes_the_subjects_messages_and_queues_a_notice_whose_payload_goes_once_delivered()
    {
        await Store.CreateSiteAsync(NewSite("s1"), default);
        await Webhooks.AddWebhookEndpointAsync(Endpoint("e1", "s1", "consent.recorded", "subject.erased"), default);
        await AppendAsAsync("s1", "alice", null);
        await AppendAsAsync("s1", "bob", null);
        await Store.EraseSubjectAsync("s1", "alice", default);
        var later = DateTimeOffset.UtcNow.AddDays(1); // the notice is stamped by the store's clock, the system's here

        var leased = await LeaseAsync("w1", later);
        Assert.Equal(["consent.recorded", "subject.erased"], leased.Select(d => d.Type).Order());
        Assert.DoesNotContain(leased, d => d.Type == "consent.recorded" && d.Payload!.Contains("alice"));
        var notice = leased.Single(d => d.Type == "subject.erased");
        Assert.Contains("\"subjectId\":\"alice\"", notice.Payload);
        await SettleAsync(notice, later, delivered: true);

        var shown = await Webhooks.ListWebhookDeliveriesAsync("s1", "e1", 10, default);
        Assert.True(shown.Single(d => d.Type == "subject.erased").PayloadDestroyed);
        Assert.False(await Webhooks.RedeliverWebhookMessageAsync("s1", "e1", notice.MessageId, later, default));
        Assert.Equal(2, shown.Count);
    }

    [SkippableFact]
    public async Task Disabling_gives_up_the_pending_deliveries_and_recovery_makes_them_pending_again()
    {
        await Store.CreateSiteAsync(NewSite("s1"), default);
        await Webhooks.AddWebhookEndpointAsync(Endpoint("e1", "s1", "consent.recorded"), default);
        await AppendAsAsync("s1", "alice", null);
        var leased = Assert.Single(await LeaseAsync("w1", T0.AddHours(1)));
        await SettleAsync(leased, T0.AddHours(1), delivered: false, next: T0.AddHours(2), disable: "kept failing");

        var disabled = (await Webhooks.GetWebhookEndpointAsync("s1", "e1", default))!;
        Assert.Equal((T0.AddHours(1), "kept failing"), (disabled.DisabledAt, disabled.DisabledReason));
        Assert.Equal("failed", (await Webhooks.ListWebhookDeliveriesAsync("s1", "e1", 10, default)).Single().Status);
        await AppendAsAsync("s1", "alice", null); // not queued for a disabled endpoint
        Assert.Single(await Webhooks.ListWebhookDeliveriesAsync("s1", "e1", 10, default));

        Assert.True(await Webhooks.UpdateWebhookEndpointAsync(disabled with { DisabledAt = null, DisabledReason = null, FailingSince = null }, default));
        Assert.Equal(0, await Webhooks.RedeliverFailedWebhooksAsync("s1", "e1", T0.AddHours(1), T0.AddHours(3), default)); // created before
        Assert.Equal(1, await Webhooks.RedeliverFailedWebhooksAsync("s1", "e1", T0, T0.AddHours(3), default));
        Assert.Equal(leased.MessageId, Assert.Single(await LeaseAsync("w1", T0.AddHours(3))).MessageId);
        Assert.True(await Webhooks.DeleteWebhookEndpointAsync("s1", "e1", default));
        Assert.Empty(await LeaseAsync("w1", T0.AddHours(9)));
        Assert.False(await Webhooks.DeleteWebhookEndpointAsync("s1", "e1", default));
    }
}
