using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Api;

/// <summary>
/// "A subject id is a name, not a credential" and "idempotency keys are scoped to the caller" (DESIGN §3):
/// a stranger who knows a visitor's id, or reuses the visitor's idempotency key, changes and learns nothing.
/// </summary>
public sealed class WriteSecretTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>
{
    private static Dictionary<string, object?> Decision(string subject, string method, string? secret = null, string? key = null, string? url = null) => new Dictionary<string, object?>
    {
        ["subjectId"] = subject,
        ["policyVersion"] = 1,
        ["method"] = method,
        ["subjectSecret"] = secret,
        ["idempotencyKey"] = key,
        ["source"] = url is null ? null : new { url, locale = "en" },
    }.Where(f => f.Value is not null).ToDictionary();

    private async Task<JsonObject> CheckAsync(TestSite site, string subject)
    {
        using var check = factory.ClientWithKey(site.CheckKey);
        return await ReadJsonAsync(await check.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/consent"));
    }

    [Fact]
    public async Task Knowing_a_subject_id_alone_changes_nothing()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        var secret = SecretOf(subject);
        using var visitor = factory.CreateClient();
        await ReadJsonAsync(await visitor.PostConsentAsync(site.Id, Decision(subject, "accept_all", secret)), HttpStatusCode.Created);
        var before = await CheckAsync(site, subject);

        // A stranger (no key, no Origin) with the id only, then with a secret of its own.
        using var stranger = factory.CreateClient();
        var noSecret = await AssertProblemAsync(await stranger.PostConsentAsync(site.Id, Decision(subject, "withdraw"), withSecret: false),
            HttpStatusCode.Forbidden, "subject-secret");
        var wrongSecret = await AssertProblemAsync(await stranger.PostConsentAsync(site.Id, Decision(subject, "withdraw", SecretOf("guess"))),
            HttpStatusCode.Forbidden, "subject-secret");

        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));
        Assert.Equal(before.ToJsonString(), (await CheckAsync(site, subject)).ToJsonString());
        Assert.True((await CheckAsync(site, subject))["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
        // One answer for "no secret" and "wrong secret": nothing tells them apart.
        Assert.Equal(noSecret["title"]!.GetValue<string>(), wrongSecret["title"]!.GetValue<string>());
        Assert.Equal(noSecret["detail"]!.GetValue<string>(), wrongSecret["detail"]!.GetValue<string>());
        Assert.DoesNotContain(secret, noSecret.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_id_without_a_secret_gets_the_same_answer_as_a_known_one()
    {
        var site = await factory.CreateSiteAsync();
        var known = NewSubjectId();
        await factory.RecordAsync(site.Id, Decision(known, "accept_all"));
        using var stranger = factory.CreateClient();

        var forKnown = await AssertProblemAsync(await stranger.PostConsentAsync(site.Id, Decision(known, "withdraw"), withSecret: false),
            HttpStatusCode.Forbidden, "subject-secret");
        var unknown = NewSubjectId();
        var forUnknown = await AssertProblemAsync(await stranger.PostConsentAsync(site.Id, Decision(unknown, "withdraw"), withSecret: false),
            HttpStatusCode.Forbidden, "subject-secret");

        Assert.Equal(Without(forKnown, "traceId", "instance", "requestId"), Without(forUnknown, "traceId", "instance", "requestId"));
        Assert.Equal(1, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task The_subjects_secret_changes_its_consent_and_each_secret_only_its_own_subject()
    {
        var site = await factory.CreateSiteAsync();
        var (alice, bob) = (NewSubjectId(), NewSubjectId());
        using var client = factory.CreateClient();
        await ReadJsonAsync(await client.PostConsentAsync(site.Id, Decision(alice, "accept_all", SecretOf(alice))), HttpStatusCode.Created);
        await ReadJsonAsync(await client.PostConsentAsync(site.Id, Decision(bob, "accept_all", SecretOf(bob))), HttpStatusCode.Created);

        var withdrawn = await ReadJsonAsync(await client.PostConsentAsync(site.Id, Decision(alice, "withdraw", SecretOf(alice))), HttpStatusCode.Created);
        Assert.Equal(2, withdrawn["sequence"]!.GetValue<long>());
        Assert.False((await CheckAsync(site, alice))["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
        // Bob's secret is a valid secret, but not Alice's.
        await AssertProblemAsync(await client.PostConsentAsync(site.Id, Decision(alice, "accept_all", SecretOf(bob))), HttpStatusCode.Forbidden, "subject-secret");
        Assert.False((await CheckAsync(site, alice))["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
        Assert.Null(withdrawn["subjectSecret"]);
    }

    [Fact]
    public async Task The_secret_is_stored_only_as_its_hash_and_never_echoed()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        var secret = "WriteSecret_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)); // easy to grep for
        using var client = factory.CreateClient();
        var created = await client.PostConsentAsync(site.Id, Decision(subject, "accept_all", secret, key: "dec_hash"));
        var answer = await created.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var replay = await client.PostConsentAsync(site.Id, Decision(subject, "accept_all", secret, key: "dec_hash"));
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        // A back end's stray secret is not stored either.
        using var admin = factory.ClientWithKey(site.AdminKey);
        var strayBackEndSecret = "BackEndSecret_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        Assert.Equal(HttpStatusCode.Created, (await admin.PostConsentAsync(site.Id, Decision(subject, "reject_all", strayBackEndSecret))).StatusCode);
        using var legal = factory.ClientWithKey(site.LegalKey);
        var exported = (await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/export"))).ToJsonString();
        var audit = (await ReadJsonAsync(await admin.GetAsync($"/v1/sites/{site.Id}/audit/logs"))).ToJsonString();
        Assert.Contains("RecordConsent", audit, StringComparison.Ordinal); // the back end's write is in it

        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), await StoredHashAsync(site.Id, subject));
        foreach (var raw in new[] { secret, strayBackEndSecret })
        {
            Assert.DoesNotContain(raw, answer, StringComparison.Ordinal);
            Assert.DoesNotContain(raw, await replay.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.DoesNotContain(raw, exported, StringComparison.Ordinal);
            Assert.DoesNotContain(raw, audit, StringComparison.Ordinal);
            Assert.False(DataFolderBytes.AnyHolds(factory.DataDirectory, Encoding.UTF8.GetBytes(raw)), $"{raw} found in the data folder");
        }
        // Nor is the client's idempotency key: only its scoped hash.
        Assert.False(DataFolderBytes.AnyHolds(factory.DataDirectory, "dec_hash"u8.ToArray()), "the idempotency key found in the data folder");
    }

    [Fact]
    public async Task A_back_end_with_an_admin_key_is_not_asked_for_the_secret_and_does_not_set_it()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, Decision(subject, "accept_all"));
        using var admin = factory.ClientWithKey(site.AdminKey);

        var byBackEnd = await ReadJsonAsync(await admin.PostConsentAsync(site.Id, Decision(subject, "withdraw")), HttpStatusCode.Created);
        Assert.Equal(2, byBackEnd["sequence"]!.GetValue<long>());
        Assert.False((await CheckAsync(site, subject))["purposes"]!["analytics"]!["granted"]!.GetValue<bool>());
        // The visitor's secret still works, and only it.
        Assert.Equal(HttpStatusCode.Created, (await factory.CreateClient().PostConsentAsync(site.Id, Decision(subject, "accept_all"))).StatusCode);
        await AssertProblemAsync(await factory.CreateClient().PostConsentAsync(site.Id, Decision(subject, "withdraw", SecretOf("other"))),
            HttpStatusCode.Forbidden, "subject-secret");

        // A random id the back end wrote first has no secret until the first anonymous write presents one.
        var fromBackEnd = NewSubjectId();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostConsentAsync(site.Id, Decision(fromBackEnd, "accept_all"))).StatusCode);
        Assert.Null(await StoredHashAsync(site.Id, fromBackEnd));
        Assert.Equal(HttpStatusCode.Created, (await factory.CreateClient().PostConsentAsync(site.Id, Decision(fromBackEnd, "reject_all"))).StatusCode);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(SecretOf(fromBackEnd))), await StoredHashAsync(site.Id, fromBackEnd));
    }

    [Fact]
    public async Task A_subject_recorded_before_write_secrets_takes_the_first_secret_presented()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, Decision(subject, "accept_all"));
        // As a data folder from before write secrets: no hash.
        await factory.ExecuteSqlAsync("UPDATE subjects SET write_secret_hash = NULL WHERE site_id = $site", ("$site", site.Id));
        using var client = factory.CreateClient();

        await AssertProblemAsync(await client.PostConsentAsync(site.Id, Decision(subject, "withdraw"), withSecret: false), HttpStatusCode.Forbidden, "subject-secret");
        var first = SecretOf("first-" + subject);
        Assert.Equal(HttpStatusCode.Created, (await client.PostConsentAsync(site.Id, Decision(subject, "reject_all", first))).StatusCode);
        await AssertProblemAsync(await client.PostConsentAsync(site.Id, Decision(subject, "accept_all", SecretOf(subject))), HttpStatusCode.Forbidden, "subject-secret");
        Assert.Equal(HttpStatusCode.Created, (await client.PostConsentAsync(site.Id, Decision(subject, "custom", first))).StatusCode);
        Assert.Equal(3, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task Without_id_and_secret_the_service_mints_both_and_shows_the_secret_once()
    {
        var site = await factory.CreateSiteAsync();
        using var client = factory.CreateClient();
        var created = await ReadJsonAsync(await client.PostConsentAsync(site.Id, new { policyVersion = 1, method = "accept_all" }), HttpStatusCode.Created);
        var subject = created["subjectId"]!.GetValue<string>();
        var secret = created["subjectSecret"]!.GetValue<string>();
        Assert.Matches("^[A-Za-z0-9_-]{22}$", secret);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), await StoredHashAsync(site.Id, subject));

        await AssertProblemAsync(await client.PostConsentAsync(site.Id, Decision(subject, "withdraw"), withSecret: false), HttpStatusCode.Forbidden, "subject-secret");
        var changed = await ReadJsonAsync(await client.PostConsentAsync(site.Id, Decision(subject, "withdraw", secret)), HttpStatusCode.Created);
        Assert.Null(changed["subjectSecret"]);
        using var legal = factory.ClientWithKey(site.LegalKey);
        Assert.DoesNotContain(secret, await (await legal.GetAsync($"/v1/sites/{site.Id}/subjects/{subject}/history")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A client sending its own secret without an id gets the id minted, and its secret not echoed.
        var own = SecretOf("own");
        var withOwn = await ReadJsonAsync(await client.PostConsentAsync(site.Id, new { policyVersion = 1, method = "reject_all", subjectSecret = own }), HttpStatusCode.Created);
        Assert.Null(withOwn["subjectSecret"]);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(own)), await StoredHashAsync(site.Id, withOwn["subjectId"]!.GetValue<string>()));
    }

    [Fact]
    public async Task An_idempotency_key_replays_only_to_the_caller_that_made_it()
    {
        var site = await factory.CreateSiteAsync();
        var (victim, attacker) = (NewSubjectId(), NewSubjectId());
        using var client = factory.CreateClient();
        var first = await ReadJsonAsync(await client.PostConsentAsync(site.Id,
            Decision(victim, "accept_all", key: "dec_shared", url: "https://shop.example/account/victim-page")), HttpStatusCode.Created);

        // Another subject with its own secret and the same key: its own fresh record, nothing of the victim's.
        using var stranger = factory.CreateClient();
        var other = await stranger.PostConsentAsync(site.Id, Decision(attacker, "accept_all", key: "dec_shared"));
        var otherText = await other.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        Assert.False(other.Headers.Contains("Idempotent-Replayed"));
        Assert.NotEqual(first["id"]!.GetValue<string>(), JsonNode.Parse(otherText)!["id"]!.GetValue<string>());
        Assert.DoesNotContain(victim, otherText, StringComparison.Ordinal);
        Assert.DoesNotContain("victim-page", otherText, StringComparison.Ordinal);
        // The same body as the victim's, the victim's id, a secret of its own: refused, not replayed.
        var forged = await stranger.PostConsentAsync(site.Id,
            Decision(victim, "accept_all", SecretOf("guess"), key: "dec_shared", url: "https://shop.example/account/victim-page"));
        Assert.DoesNotContain("victim-page", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await AssertProblemAsync(forged, HttpStatusCode.Forbidden, "subject-secret");
        // No id and no secret: there is no caller to scope the key to.
        var anonymous = await stranger.PostConsentAsync(site.Id, new { policyVersion = 1, method = "accept_all", idempotencyKey = "dec_shared" });
        Assert.DoesNotContain(victim, await anonymous.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await AssertProblemAsync(anonymous, HttpStatusCode.BadRequest, "validation", "subjectSecret");
        Assert.Equal(2, await factory.CountRowsAsync("consents", site.Id));

        // The victim's own retry still replays.
        var retry = await client.PostConsentAsync(site.Id, Decision(victim, "accept_all", key: "dec_shared", url: "https://shop.example/account/victim-page"));
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first["id"]!.GetValue<string>(), (await ReadJsonAsync(retry, HttpStatusCode.Created))["id"]!.GetValue<string>());
        Assert.Equal(2, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task An_idempotency_key_of_one_api_key_does_not_replay_to_another()
    {
        var site = await factory.CreateSiteAsync();
        var secondAdmin = await factory.IssueKeyAsync(site.Id, site.AdminKey, "admin");
        var body = new { subjectId = "user:1042", policyVersion = 1, method = "api", purposes = new { model_improvement = true } };
        using var one = factory.ClientWithKey(site.AdminKey);
        using var two = factory.ClientWithKey(secondAdmin);

        var first = await ReadJsonAsync(await one.PostConsentAsync(site.Id, body, "application/json", idempotencyKey: "toggle-7"), HttpStatusCode.Created);
        var retry = await one.PostConsentAsync(site.Id, body, "application/json", idempotencyKey: "toggle-7");
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first["id"]!.GetValue<string>(), (await ReadJsonAsync(retry, HttpStatusCode.Created))["id"]!.GetValue<string>());

        var byOther = await two.PostConsentAsync(site.Id, body, "application/json", idempotencyKey: "toggle-7");
        Assert.False(byOther.Headers.Contains("Idempotent-Replayed"));
        var otherRecord = await ReadJsonAsync(byOther, HttpStatusCode.Created);
        Assert.NotEqual(first["id"]!.GetValue<string>(), otherRecord["id"]!.GetValue<string>());
        Assert.Equal(2, otherRecord["sequence"]!.GetValue<long>());
        Assert.Equal(2, await factory.CountRowsAsync("consents", site.Id));
    }

    [Fact]
    public async Task Erasure_removes_the_secret_hash_with_the_subject()
    {
        var site = await factory.CreateSiteAsync();
        var subject = NewSubjectId();
        await factory.RecordAsync(site.Id, Decision(subject, "accept_all"));
        Assert.NotNull(await StoredHashAsync(site.Id, subject));
        using var legal = factory.ClientWithKey(site.LegalKey);
        Assert.Equal(HttpStatusCode.NoContent, (await legal.DeleteAsync($"/v1/sites/{site.Id}/subjects/{subject}")).StatusCode);

        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM subjects WHERE site_id = $site", site.Id));
        // Forgotten: the id is free again, for whoever writes it next with a secret.
        Assert.Equal(HttpStatusCode.Created,
            (await factory.CreateClient().PostConsentAsync(site.Id, Decision(subject, "reject_all", SecretOf("after-erasure")))).StatusCode);
    }

    [Theory]
    [InlineData("subjectId", "sub_AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("subjectId", "sub_test_test_test_test_")]
    [InlineData("subjectSecret", "AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("subjectSecret", "short")]
    [InlineData("subjectSecret", "not base64url: spaces and ! in it")]
    public async Task Hand_made_ids_and_secrets_are_400_naming_the_field(string field, string value)
    {
        var site = await factory.CreateSiteAsync();
        var body = new Dictionary<string, object> { ["policyVersion"] = 1, ["method"] = "accept_all", ["subjectId"] = NewSubjectId(), [field] = value };
        if (field == "subjectId") body["subjectSecret"] = SecretOf(value);
        using var client = factory.CreateClient();
        await AssertProblemAsync(await client.PostConsentAsync(site.Id, body, withSecret: false), HttpStatusCode.BadRequest, "validation", field);
        Assert.Equal(0, await factory.CountRowsAsync("consents", site.Id));
    }

    private static string Without(JsonObject problem, params string[] fields)
    {
        var copy = JsonNode.Parse(problem.ToJsonString())!.AsObject();
        foreach (var f in fields) copy.Remove(f);
        return copy.ToJsonString();
    }

    private async Task<byte[]?> StoredHashAsync(string siteId, string subjectId)
    {
        await using var connection = new SqliteConnection($"Data Source={factory.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT write_secret_hash FROM subjects WHERE site_id = $site AND subject_id = $subject";
        command.Parameters.AddWithValue("$site", siteId);
        command.Parameters.AddWithValue("$subject", subjectId);
        return await command.ExecuteScalarAsync() is byte[] hash ? hash : null;
    }

    private async Task<T> ScalarAsync<T>(string sql, string siteId)
    {
        await using var connection = new SqliteConnection($"Data Source={factory.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$site", siteId);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
