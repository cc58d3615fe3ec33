using System.Net;
using ConsentService.Tests.Identity;
using ConsentService.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>Erasure by user id (issue 15 §1) read byte by byte: the user id, each linked sub_ id and every key go.</summary>
public sealed partial class ErasureForensicsTests
{
    [Fact]
    public async Task After_erasing_a_user_id_no_file_holds_the_user_id_its_linked_anonymous_ids_their_pages_or_keys_even_after_a_restart()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        var user = "user-forensic-" + Guid.NewGuid().ToString("N")[..12];
        var (phone, laptop, bystander) = (NewSubjectId(), NewSubjectId(), NewSubjectId());
        var marker = "identity-marker-" + Guid.NewGuid().ToString("N")[..12];
        TestSite site;
        List<(string Id, string Commitment)> erased = [];
        using (var app = new ConsentApiFactory { DataDirectory = directory, KeepDataDirectory = true })
        {
            site = await app.CreateSiteAsync();
            var secret = await app.IssueIdentitySecretAsync(site);
            await app.RecordAsync(site.Id, new { subjectId = bystander, policyVersion = 1, method = "accept_all" });
            await app.RecordAsync(site.Id, new { subjectId = phone, policyVersion = 1, method = "accept_all", source = new { url = $"https://shop.example/{marker}/a" } });
            await app.RecordAsync(site.Id, new { subjectId = laptop, policyVersion = 1, method = "reject_all", source = new { url = $"https://shop.example/{marker}/b" } });
            foreach (var anonymous in new[] { phone, laptop })
            {
                var linked = await app.IdentifyOkAsync(site.Id, new { subjectToken = app.Token(site, secret, user), subjectId = anonymous, subjectSecret = SecretOf(anonymous) });
                Assert.True(linked["linked"]!.GetValue<bool>());
            }
            using (var browser = app.CreateClient())
            {
                await ReadJsonAsync(await browser.PostConsentAsync(site.Id, new
                {
                    subjectToken = app.Token(site, secret, user), policyVersion = 1, method = "withdraw", source = new { url = $"https://shop.example/{marker}/c" },
                }, withSecret: false), HttpStatusCode.Created);
            }
            using var legal = app.ClientWithKey(site.LegalKey);
            Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{user}/export")).StatusCode);
            foreach (var id in new[] { user, phone, laptop })
            {
                erased.Add((id, await CommitmentOfAsync(app.DatabasePath, id)));
            }
            // Sanity: every needle is on disk before the erasure, so its absence afterwards means something.
            DataFolderBytes.AssertHoldsEach(directory, [user, phone, laptop, marker]);

            Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{user}")).StatusCode);
            foreach (var (id, commitment) in erased)
            {
                DataFolderBytes.AssertHoldsNone(directory, [user, phone, laptop, marker], id, commitment);
            }
        }

        using (var restarted = new ConsentApiFactory { DataDirectory = directory })
        {
            using var legal = restarted.ClientWithKey(site.LegalKey);
            foreach (var (id, _) in erased)
            {
                Assert.Equal(HttpStatusCode.NotFound, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{id}/history")).StatusCode);
            }
            Assert.Equal(HttpStatusCode.OK, (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{bystander}/history")).StatusCode);
            var report = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
            Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
            foreach (var (id, commitment) in erased)
            {
                DataFolderBytes.AssertHoldsNone(directory, [user, phone, laptop, marker], id, commitment);
            }
        }
    }

    private static async Task<string> CommitmentOfAsync(string databasePath, string subject)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT subject_commitment FROM consents WHERE subject_id = $subject";
        command.Parameters.AddWithValue("$subject", subject);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
