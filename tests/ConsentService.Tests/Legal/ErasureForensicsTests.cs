using System.Net;
using System.Security.Cryptography;
using System.Text;
using ConsentService.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>
/// Erasure read as an attacker reads it: every byte of every file in the data folder, after the 204 and
/// after a restart. Neither the id, the source, the idempotency keys nor the subject's key may be found;
/// the key is searched for by trying every 32-byte window of every file as the HMAC key of the commitment.
/// </summary>
public sealed partial class ErasureForensicsTests
{
    /// <summary>What one subject left behind: the strings to grep for and the commitment the key scan checks.</summary>
    private sealed record Traces(string SubjectId, string Commitment, IReadOnlyList<string> Needles);

    [Fact]
    public async Task After_an_erasure_no_file_of_the_data_folder_holds_the_id_source_idempotency_keys_or_key_even_after_a_restart()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        TestSite site;
        Traces traces;
        string bystander = NewSubjectId();
        using (var app = new ConsentApiFactory { DataDirectory = directory, KeepDataDirectory = true })
        {
            site = await app.CreateSiteAsync();
            await app.RecordAsync(site.Id, new { subjectId = bystander, policyVersion = 1, method = "accept_all", source = new { url = "https://shop.example/", locale = "en" } });
            traces = await LeaveTracesAsync(app, site);
            await app.RecordAsync(site.Id, new { subjectId = NewSubjectId(), policyVersion = 1, method = "reject_all" });

            using var legal = app.ClientWithKey(site.LegalKey);
            Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{traces.SubjectId}")).StatusCode);

            DataFolderBytes.AssertHoldsNone(directory, traces.Needles, traces.SubjectId, traces.Commitment);
        }

        using (var restarted = new ConsentApiFactory { DataDirectory = directory })
        {
            using var legal = restarted.ClientWithKey(site.LegalKey);
            Assert.Equal(HttpStatusCode.NotFound, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{traces.SubjectId}/history")).StatusCode);
            Assert.Equal(bystander, (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{bystander}/history")))["subjectId"]!.GetValue<string>());
            var report = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
            Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
            await restarted.RecordAsync(site.Id, new { subjectId = bystander, policyVersion = 1, method = "withdraw" });

            DataFolderBytes.AssertHoldsNone(directory, traces.Needles, traces.SubjectId, traces.Commitment);
        }
    }

    [Fact]
    public async Task An_erasure_under_concurrent_reads_still_scrubs_every_file_and_waits_for_a_reader_holding_an_old_snapshot()
    {
        // Four readers as fast as they go: on a quiet machine that is past the key's rate limit.
        using var app = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["RateLimits:Enabled"] = "false" } };
        var site = await app.CreateSiteAsync();
        var bystander = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = bystander, policyVersion = 1, method = "accept_all" });
        var traces = await LeaveTracesAsync(app, site);

        // A reader outside the service holds a snapshot from before the erasure: the WAL cannot be
        // truncated while it may still read the old pages.
        await using var reader = new SqliteConnection($"Data Source={app.DatabasePath};Mode=ReadOnly;Pooling=False");
        await reader.OpenAsync();
        await using var snapshot = reader.BeginTransaction(deferred: true);
        await using (var select = reader.CreateCommand())
        {
            select.Transaction = snapshot;
            select.CommandText = "SELECT count(*) FROM consents";
            Assert.True((long)(await select.ExecuteScalarAsync())! > 0);
        }

        // Meanwhile the service's own readers keep reading.
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            using var legal = app.ClientWithKey(site.LegalKey);
            var reads = 0;
            while (!stop.IsCancellationRequested)
            {
                Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{bystander}/history")).StatusCode);
                reads++;
            }
            return reads;
        })).ToList();

        using var eraser = app.ClientWithKey(site.LegalKey);
        var erasure = eraser.DeleteAsync($"/v1/sites/{site.Id}/subjects/{traces.SubjectId}");
        await Task.Delay(TimeSpan.FromMilliseconds(700));
        Assert.False(erasure.IsCompleted, "The erasure answered while old pages could still be in the WAL");
        await snapshot.RollbackAsync();
        await reader.CloseAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await erasure.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
        await stop.CancelAsync();
        Assert.All(await Task.WhenAll(readers), reads => Assert.True(reads > 0));
        DataFolderBytes.AssertHoldsNone(app.DataDirectory, traces.Needles, traces.SubjectId, traces.Commitment);
    }

    [Fact]
    public async Task Retention_shredding_leaves_nothing_behind_either()
    {
        // 11 quiet days pass below with nothing recorded: more than the clock guard's default lead of one day.
        using var app = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["Retention:MaxClockLead"] = "30.00:00:00" } };
        var site = await app.CreateSiteAsync(new { name = "Short memory", retentionDays = 30 });
        var traces = await LeaveTracesAsync(app, site);
        app.Time.Advance(TimeSpan.FromDays(20));
        var recent = NewSubjectId();
        await app.RecordAsync(site.Id, new { subjectId = recent, policyVersion = 1, method = "reject_all" });
        using var legal = app.ClientWithKey(site.LegalKey);

        app.Time.Advance(TimeSpan.FromDays(11)); // the traced subject: 31 days idle; the hourly job runs
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{traces.SubjectId}/history")).StatusCode != HttpStatusCode.NotFound)
        {
            Assert.True(DateTime.UtcNow < deadline, "The retention job did not shred the expired subject");
            await Task.Delay(50);
        }

        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{recent}/history")).StatusCode);
        // No answer to wait for here: the job's scrub follows its commit within moments.
        while (DataFolderBytes.Find(app.DataDirectory, traces.Needles, traces.SubjectId, traces.Commitment).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        DataFolderBytes.AssertHoldsNone(app.DataDirectory, traces.Needles, traces.SubjectId, traces.Commitment);
    }

    /// <summary>
    /// Records three decisions for a fresh subject through a back end (admin key) with a distinctive page,
    /// browser, locale and idempotency keys, then reads it every way a legal key can, so audit events exist.
    /// </summary>
    private static async Task<Traces> LeaveTracesAsync(ConsentApiFactory app, TestSite site)
    {
        var subject = NewSubjectId();
        var marker = "erasure-marker-" + Guid.NewGuid().ToString("N")[..12];
        var locale = "de-" + Guid.NewGuid().ToString("N")[..8];
        // Minimised by the service to "Firefox 4321 (Linux)": that is what it stores, so that is what is searched.
        const string userAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:4321.0) Gecko/20100101 Firefox/4321.0";
        var keys = Enumerable.Range(0, 3).Select(i => $"idem-{i}-{Guid.NewGuid():N}").ToList();
        using var admin = app.ClientWithKey(site.AdminKey);
        admin.DefaultRequestHeaders.UserAgent.ParseAdd(userAgent);
        string[] methods = ["accept_all", "custom", "withdraw"];
        for (var i = 0; i < methods.Length; i++)
        {
            var body = new
            {
                subjectId = subject, policyVersion = 1, method = methods[i], purposes = i == 1 ? new { analytics = true } : null,
                source = new { url = $"https://shop.example/{marker}/checkout?step={i}", locale },
            };
            await ReadJsonAsync(await admin.PostConsentAsync(site.Id, body, "application/json", keys[i]), HttpStatusCode.Created);
        }

        using var legal = app.ClientWithKey(site.LegalKey);
        var history = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history"));
        Assert.Equal("Firefox 4321 (Linux)", history["records"]![0]!["source"]!["userAgent"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/export")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/consents?subjectId={subject}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/consents/export?format=ndjson&subjectId={subject}")).StatusCode);
        using var checker = app.ClientWithKey(site.CheckKey);
        Assert.Equal(HttpStatusCode.OK, (await checker.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent")).StatusCode);

        var commitment = (await ColumnAsync(app.DatabasePath, "subject_commitment", subject)).Single();
        // The store keeps an idempotency key only as a hash scoped to its caller (the raw key is never written):
        // that fingerprint names the subject's requests too, so it must go with the erasure.
        var storedKeys = await ColumnAsync(app.DatabasePath, "idempotency_key", subject);
        Assert.Equal(keys.Count, storedKeys.Count);
        // Sanity: the needles are there before the erasure, so their absence afterwards means something.
        DataFolderBytes.AssertHoldsEach(app.DataDirectory, [subject, marker, "Firefox 4321 (Linux)", locale, .. storedKeys]);
        return new Traces(subject, commitment, [subject, marker, "Firefox 4321 (Linux)", locale, .. storedKeys, .. keys]);
    }

    private static async Task<List<string>> ColumnAsync(string databasePath, string column, string subject)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT DISTINCT {column} FROM consents WHERE subject_id = $subject";
        command.Parameters.AddWithValue("$subject", subject);
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) values.Add(reader.GetString(0));
        return values;
    }
}
