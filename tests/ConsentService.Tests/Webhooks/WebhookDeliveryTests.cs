using System.Net;
using System.Net.Http.Json;
using ConsentService.Infrastructure;
using ConsentService.Tests.Infrastructure;
using ConsentService.Webhooks;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;
using static ConsentService.Tests.Infrastructure.Api;
using static ConsentService.Tests.Webhooks.WebhookApi;

namespace ConsentService.Tests.Webhooks;

/// <summary>Webhooks end to end: the admin API, real receivers on 127.0.0.1, the worker, the outbox in the data folder.</summary>
public sealed class WebhookDeliveryTests
{
    [Fact]
    public async Task Registration_refuses_bad_input_naming_the_field_writes_nothing_and_shows_the_secret_once()
    {
        using var app = new ConsentApiFactory(); // the defaults: https required outside Development, no private networks
        var site = await app.CreateSiteAsync();
        using var admin = app.ClientWithKey(site.AdminKey);
        (object Body, string Field)[] bad =
        [
            (new { url = "not a url" }, "url"),
            (new { url = "ftp://hooks.example/in" }, "url"),
            (new { url = "http://hooks.example/in" }, "url"), // https required
            (new { url = "https://user:pw@hooks.example/in" }, "url"),
            (new { url = "https://127.0.0.1/in" }, "url"),
            (new { url = "https://10.1.2.3/in" }, "url"),
            (new { url = "https://[::1]/in" }, "url"),
            (new { url = "https://[::ffff:127.0.0.1]/in" }, "url"),
            (new { url = "https://169.254.169.254/latest/meta-data/" }, "url"),
            (new { url = "https://localhost/in" }, "url"),
            (new { url = "https://hooks.example/in", events = new[] { "consent.recorded", "consent.everything" } }, "events[1]"),
            (new { url = "https://hooks.example/in", description = new string('d', 201) }, "description"),
        ];
        foreach (var (body, field) in bad)
        {
            await AssertProblemAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/webhooks", body), HttpStatusCode.BadRequest, "validation", field);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/webhooks", new { events = new[] { "consent.recorded" } })).StatusCode);
        Assert.Equal(0, await app.CountRowsAsync("webhook_endpoints"));

        var created = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/webhooks", new { url = "https://hooks.example/in" }), HttpStatusCode.Created);
        var secret = created["secret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.Equal(WebhookEvents.All, created["endpoint"]!["events"]!.AsArray().Select(e => e!.GetValue<string>()));
        var id = created["endpoint"]!["id"]!.GetValue<string>();
        Assert.DoesNotContain(secret["whsec_".Length..], await admin.GetStringAsync($"/v1/sites/{site.Id}/webhooks"));
        Assert.DoesNotContain(secret["whsec_".Length..], await admin.GetStringAsync($"/v1/sites/{site.Id}/webhooks/{id}"));
        Assert.Equal("enabled", (await app.EndpointAsync(site, id))["status"]!.GetValue<string>());

        await AssertProblemAsync(await admin.GetAsync($"/v1/sites/{site.Id}/webhooks/ep_missing"), HttpStatusCode.NotFound, "not-found");
        await AssertProblemAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}/webhooks/{id}", new { url = "https://192.168.1.1/" }),
            HttpStatusCode.BadRequest, "validation", "url");
        Assert.Equal("https://hooks.example/in", (await app.EndpointAsync(site, id))["url"]!.GetValue<string>());
        using var checker = app.ClientWithKey(site.CheckKey); // not an admin
        Assert.Equal(HttpStatusCode.Forbidden, (await checker.GetAsync($"/v1/sites/{site.Id}/webhooks")).StatusCode);

        var rotated = await ReadJsonAsync(await admin.PostAsync($"/v1/sites/{site.Id}/webhooks/{id}/rotate-secret", null));
        Assert.NotEqual(secret, rotated["secret"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_recorded_decision_arrives_signed_verifiable_by_the_library_and_by_hand_and_a_tampered_one_does_not_verify()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App();
        app.Time.SetUtcNow(DateTimeOffset.UtcNow); // the library checks the timestamp against the real clock
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, receiver.Url);
        var subject = NewSubjectId();
        var record = await app.RecordForAsync(site, subject, "reject_all");

        await receiver.WaitForAsync(r => r.Accepted.Any(m => m.Type == WebhookEvents.ConsentRecorded), "the decision");
        var message = receiver.Accepted.Single(m => m.Type == WebhookEvents.ConsentRecorded);
        Assert.StartsWith("msg_", message.Id);
        Assert.Equal(app.Time.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), message.Timestamp);
        var data = message.Data;
        Assert.Equal(site.Id, data["siteId"]!.GetValue<string>());
        Assert.Equal(subject, data["subjectId"]!.GetValue<string>());
        Assert.Equal("reject_all", data["method"]!.GetValue<string>());
        Assert.Equal(1, data["policyVersion"]!.GetValue<int>());
        Assert.Equal(record["position"]!.GetValue<long>(), data["position"]!.GetValue<long>());
        Assert.Equal(record["id"]!.GetValue<string>(), data["recordId"]!.GetValue<string>());
        Assert.False(data["purposes"]!["analytics"]!.GetValue<bool>());
        Assert.True(data["purposes"]!["necessary"]!.GetValue<bool>());

        var headers = new HeaderDictionary { ["webhook-id"] = message.Id, ["webhook-timestamp"] = message.Timestamp, ["webhook-signature"] = message.Signature };
        new StandardWebhook(endpoint.Secret).Verify(message.Body, headers); // throws when it does not verify
        Assert.Equal(IndependentSignature(endpoint.Secret, message.Id, message.Timestamp, message.Body), message.Signature);
        Assert.ThrowsAny<Exception>(() => new StandardWebhook(endpoint.Secret).Verify(message.Body.Replace("reject_all", "accept_all"), headers));
        Assert.ThrowsAny<Exception>(() => new StandardWebhook("whsec_" + Convert.ToBase64String(new byte[32])).Verify(message.Body, headers));

        var shown = await app.WaitForEndpointAsync(site, endpoint.Id, e => Deliveries(e).Any(d => d["status"]!.GetValue<string>() == "delivered"), "delivered");
        var delivery = Deliveries(shown).Single();
        Assert.Equal(message.Id, delivery["messageId"]!.GetValue<string>());
        Assert.Equal(1, delivery["attempts"]!.GetValue<int>());
        Assert.Equal(200, delivery["lastStatusCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task Events_the_endpoint_did_not_subscribe_to_are_not_sent_and_a_policy_publication_is()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App();
        var site = await app.CreateSiteAsync();
        await app.RegisterAsync(site, receiver.Url, [WebhookEvents.PolicyPublished]);
        await app.RecordForAsync(site, NewSubjectId());
        using var admin = app.ClientWithKey(site.AdminKey);
        var content = await ReadJsonAsync(await admin.GetAsync("/v1/policy-template"));
        var republished = await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/policies",
            new { purposes = content["purposes"], texts = content["texts"], material = false });
        Assert.Equal(HttpStatusCode.Created, republished.StatusCode);

        await receiver.WaitForAsync(r => r.Accepted.Any(m => m.Type == WebhookEvents.PolicyPublished), "the publication");
        var published = receiver.Accepted.Single();
        Assert.Equal(2, published.Data["policyVersion"]!.GetValue<int>());
        Assert.False(published.Data["material"]!.GetValue<bool>());
        await Task.Delay(200);
        Assert.DoesNotContain(receiver.Requests, m => m.Type == WebhookEvents.ConsentRecorded);
    }

    [Fact]
    public async Task A_subjects_later_decision_waits_for_its_earlier_one_while_other_subjects_go_ahead()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App();
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, receiver.Url);
        var (a, b) = (NewSubjectId(), NewSubjectId());
        var released = false;
        // A's first decision (accept_all) fails until released; everything else is accepted.
        receiver.Answer = m => m.Data["subjectId"]!.GetValue<string>() == a && m.Data["method"]!.GetValue<string>() == "accept_all"
            && !Volatile.Read(ref released) ? 503 : 200;
        var a1 = await app.RecordForAsync(site, a, "accept_all");
        var a2 = await app.RecordForAsync(site, a, "withdraw");
        var b1 = await app.RecordForAsync(site, b, "accept_all");

        await receiver.WaitForAsync(r => r.Accepted.Any(m => m.Data["subjectId"]!.GetValue<string>() == b), "the other subject's decision");
        await receiver.WaitForAsync(r => r.Requests.Any(m => m.Data["position"]!.GetValue<long>() == a1["position"]!.GetValue<long>()), "a failed try of the first");
        await Task.Delay(300);
        Assert.DoesNotContain(receiver.Requests, m => m.Data["position"]!.GetValue<long>() == a2["position"]!.GetValue<long>());
        var failing = await app.EndpointAsync(site, endpoint.Id);
        Assert.Contains(Deliveries(failing), d => d["lastStatusCode"]?.GetValue<int>() == 503 && d["status"]!.GetValue<string>() == "pending");

        Volatile.Write(ref released, true);
        app.Time.Advance(TimeSpan.FromMinutes(2)); // past the first retry's backoff
        await receiver.WaitForAsync(r => r.Accepted.Any(m => m.Data["position"]!.GetValue<long>() == a2["position"]!.GetValue<long>()), "the later decision");
        var ofA = receiver.Accepted.Where(m => m.Data["subjectId"]!.GetValue<string>() == a).Select(m => m.Data["method"]!.GetValue<string>()).ToList();
        Assert.Equal(["accept_all", "withdraw"], ofA);
        var requests = receiver.Requests.ToList();
        var firstA2 = requests.FindIndex(m => m.Data["position"]!.GetValue<long>() == a2["position"]!.GetValue<long>());
        var lastA1 = requests.FindLastIndex(m => m.Data["position"]!.GetValue<long>() == a1["position"]!.GetValue<long>());
        Assert.True(lastA1 < firstA2, "the later decision was sent before the earlier one was delivered");
        Assert.True(b1["position"]!.GetValue<long>() > a1["position"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_blip_is_retried_within_the_attempt_by_the_resilience_pipeline_with_the_same_webhook_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App(more: new Dictionary<string, string> { ["Webhooks:QuickRetries"] = "2" });
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, receiver.Url);
        var calls = 0;
        receiver.Answer = _ => Interlocked.Increment(ref calls) == 1 ? 503 : 200;
        await app.RecordForAsync(site, NewSubjectId());

        var shown = await app.WaitForEndpointAsync(site, endpoint.Id, e => Deliveries(e).Any(d => d["status"]!.GetValue<string>() == "delivered"), "delivered");
        Assert.Equal(1, Deliveries(shown).Single()["attempts"]!.GetValue<int>()); // one durable attempt: the retry was Polly's
        Assert.Equal(2, receiver.Requests.Count);
        Assert.Single(receiver.Requests.Select(r => r.Id).Distinct());
    }

    [Fact]
    public async Task An_endpoint_failing_for_a_day_is_disabled_with_the_reason_and_recovers_its_failed_messages_once_enabled()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App();
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, receiver.Url);
        var start = app.Time.GetUtcNow();
        receiver.Answer = _ => 500;
        var subject = NewSubjectId();
        await app.RecordForAsync(site, subject);
        await app.WaitForEndpointAsync(site, endpoint.Id, e => e["failingSince"] is not null, "the first failure");

        app.Time.Advance(TimeSpan.FromHours(12));
        await receiver.WaitForAsync(r => r.Requests.Count >= 2, "the second try");
        Assert.Equal("enabled", (await app.EndpointAsync(site, endpoint.Id))["status"]!.GetValue<string>()); // 12 h: not yet
        app.Time.Advance(TimeSpan.FromHours(13));
        var disabled = await app.WaitForEndpointAsync(site, endpoint.Id, e => e["status"]!.GetValue<string>() == "disabled", "disabled");
        Assert.Contains("500", disabled["disabledReason"]!.GetValue<string>());
        Assert.Contains("24 h", disabled["disabledReason"]!.GetValue<string>());
        Assert.Equal("failed", Deliveries(disabled).Single()["status"]!.GetValue<string>());

        var tries = receiver.Requests.Count;
        await app.RecordForAsync(site, subject, "withdraw"); // not queued for a disabled endpoint
        app.Time.Advance(TimeSpan.FromHours(1));
        await Task.Delay(300);
        Assert.Equal(tries, receiver.Requests.Count);

        receiver.Answer = _ => 200;
        using var admin = app.ClientWithKey(site.AdminKey);
        var enabled = await ReadJsonAsync(await admin.PatchAsJsonAsync($"/v1/sites/{site.Id}/webhooks/{endpoint.Id}", new { enabled = true }));
        Assert.Equal("enabled", enabled["status"]!.GetValue<string>());
        Assert.Null(enabled["disabledReason"]);
        await AssertProblemAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/webhooks/{endpoint.Id}/recover", new { }), HttpStatusCode.BadRequest, "validation", "since");
        var recovered = await ReadJsonAsync(await admin.PostAsJsonAsync($"/v1/sites/{site.Id}/webhooks/{endpoint.Id}/recover", new { since = start }), HttpStatusCode.Accepted);
        Assert.Equal(1, recovered["deliveries"]!.GetValue<int>());
        await receiver.WaitForAsync(r => r.Accepted.Count == 1, "the recovered message");
        Assert.Equal("accept_all", receiver.Accepted.Single().Data["method"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_manual_redelivery_sends_the_same_message_again_with_the_same_id_and_body()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App();
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, receiver.Url);
        await app.RecordForAsync(site, NewSubjectId());
        await receiver.WaitForAsync(r => r.Accepted.Count == 1, "the first delivery");
        var first = receiver.Accepted.Single();
        await app.WaitForEndpointAsync(site, endpoint.Id, e => Deliveries(e).Any(d => d["status"]!.GetValue<string>() == "delivered"), "delivered");

        using var admin = app.ClientWithKey(site.AdminKey);
        var accepted = await admin.PostAsync($"/v1/sites/{site.Id}/webhooks/{endpoint.Id}/messages/{first.Id}/redeliver", null);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await receiver.WaitForAsync(r => r.Accepted.Count == 2, "the redelivery");
        var again = receiver.Accepted.Last();
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(first.Body, again.Body);
        await AssertProblemAsync(await admin.PostAsync($"/v1/sites/{site.Id}/webhooks/{endpoint.Id}/messages/msg_nope/redeliver", null),
            HttpStatusCode.NotFound, "not-found");
    }

    [SkippableFact]
    public async Task A_name_that_resolves_to_a_private_address_is_refused_at_connect_time_and_redirects_are_not_followed()
    {
        var host = Dns.GetHostName();
        var addresses = await Dns.GetHostAddressesAsync(host);
        Skip.If(addresses.Length == 0 || addresses.Any(PublicAddresses.IsPublic), $"{host} does not resolve to private addresses only here.");
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App(allowPrivate: false);
        var site = await app.CreateSiteAsync();
        // Accepted at registration (a name, not a literal address): refused when the worker connects.
        var endpoint = await app.RegisterAsync(site, $"http://{host}:{receiver.Port}/hooks");
        await app.RecordForAsync(site, NewSubjectId());
        var shown = await app.WaitForEndpointAsync(site, endpoint.Id, e => Deliveries(e).Any(d => d["lastError"] is not null), "a refused attempt");
        Assert.Contains("not a public address", Deliveries(shown).Single()["lastError"]!.GetValue<string>());
        Assert.Empty(receiver.Requests);

        await using var target = await WebhookReceiver.StartAsync();
        await using var redirecting = await WebhookReceiver.StartAsync();
        redirecting.RedirectTo = target.Url;
        using var open = App();
        var other = await open.CreateSiteAsync();
        var redirected = await open.RegisterAsync(other, redirecting.Url);
        await open.RecordForAsync(other, NewSubjectId());
        var failed = await open.WaitForEndpointAsync(other, redirected.Id, e => Deliveries(e).Any(d => d["lastStatusCode"]?.GetValue<int>() == 307), "the 307");
        Assert.Equal("pending", Deliveries(failed).Single()["status"]!.GetValue<string>());
        Assert.Empty(target.Requests);
    }

    [Fact]
    public async Task The_connect_time_check_refuses_loopback_by_name_even_when_registration_was_bypassed()
    {
        // As if DNS changed after registration: the row points at localhost, written behind the API's back.
        await using var receiver = await WebhookReceiver.StartAsync();
        using var app = App(allowPrivate: false);
        var site = await app.CreateSiteAsync();
        var endpoint = await app.RegisterAsync(site, "http://hooks.example/in");
        await app.ExecuteSqlAsync("UPDATE webhook_endpoints SET url = $url", ("$url", $"http://localhost:{receiver.Port}/hooks"));
        await app.RecordForAsync(site, NewSubjectId());
        var shown = await app.WaitForEndpointAsync(site, endpoint.Id, e => Deliveries(e).Any(d => d["lastError"] is not null), "a refused attempt");
        Assert.Contains("not a public address", Deliveries(shown).Single()["lastError"]!.GetValue<string>());
        Assert.Empty(receiver.Requests);
    }
}
