using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Ledger;
using ConsentService.Tests.Durability;
using ConsentService.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>
/// Signing keys that outlive instances: every key the deployment signed with stays published, one key signs at a
/// time, rotation and compromise are operator declarations, and the private key is found nowhere it was not put.
/// </summary>
public sealed class SigningKeyTests
{
    /// <summary>A P-256 key as an operator would hold it: the PEM, its kid (RFC 7638, computed here) and the private scalar.</summary>
    private sealed record TestKey(string Pem, string Kid, byte[] D)
    {
        public static TestKey New()
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return From(key);
        }

        public static TestKey From(ECDsa key)
        {
            var p = key.ExportParameters(includePrivateParameters: true);
            var x = Base64Url(p.Q.X!);
            var y = Base64Url(p.Q.Y!);
            var kid = Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}""")));
            return new TestKey(key.ExportPkcs8PrivateKeyPem(), kid, p.D!);
        }
    }

    private static string Base64Url(byte[] data) => System.Buffers.Text.Base64Url.EncodeToString(data);

    private static byte[] FromBase64Url(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);

    /// <summary>One instance of the deployment on <paramref name="directory"/>, with <paramref name="key"/> configured.</summary>
    private static ConsentApiFactory Instance(string directory, TestKey? key, params (string Name, string Value)[] settings) =>
        Instance(directory, key, null, settings);

    private static ConsentApiFactory Instance(string directory, TestKey? key, LogCapture? log, params (string Name, string Value)[] settings)
    {
        var all = settings.ToDictionary(s => s.Name, s => s.Value);
        if (key is not null) all["Signing:PrivateKey"] = key.Pem;
        return new ConsentApiFactory { DataDirectory = directory, KeepDataDirectory = true, Settings = all, Logs = log };
    }

    /// <summary>Another instance of the deployment running beside <paramref name="first"/> (one store, as on MongoDB), with <paramref name="key"/>.</summary>
    private static ConsentApiFactory Beside(ConsentApiFactory first, TestKey key, params (string Name, string Value)[] settings) =>
        Beside(first, key, null, settings);

    private static ConsentApiFactory Beside(ConsentApiFactory first, TestKey key, LogCapture? log, params (string Name, string Value)[] settings)
    {
        var all = settings.ToDictionary(s => s.Name, s => s.Value);
        all["Signing:PrivateKey"] = key.Pem;
        return new ConsentApiFactory { SharesDatabaseWith = first, Settings = all, Logs = log };
    }

    private static void DeleteDirectory(string directory)
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // a temp folder left behind is harmless
        }
    }

    /// <summary>
    /// Starts <paramref name="factory"/>, which must fail, and returns everything said about it: the exception and what
    /// was logged (the test host hides a hosted service's exception behind a disposed provider, the log keeps it).
    /// </summary>
    private static string StartFailure(WebApplicationFactory<Program> factory)
    {
        var log = new LogCapture();
        var logged = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(log)));
        var error = Record.Exception(() => logged.CreateClient());
        Assert.NotNull(error);
        try
        {
            logged.Dispose();
        }
        catch (Exception e) when (e is ArgumentNullException or ObjectDisposedException)
        {
            // Stopping a host that never started fails in the test host; nothing is left running.
        }
        return $"{error}\n{log.Text}";
    }

    private sealed class LogCapture : ILoggerProvider, ILogger
    {
        private readonly StringBuilder _text = new();

        public string Text
        {
            get
            {
                lock (_text) return _text.ToString();
            }
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_text) _text.AppendLine($"{logLevel}: {formatter(state, exception)} {exception}");
        }

        public void Dispose()
        {
        }
    }

    private static async Task<JsonArray> PublishedKeysAsync(ConsentApiFactory instance)
    {
        using var anonymous = instance.CreateClient();
        var response = await anonymous.GetAsync("/.well-known/consent-signing-key");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/jwk-set+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["keys"]!.AsArray();
    }

    /// <summary>
    /// The stranger's check: the JWK set alone, the key picked by the header's kid, ES256 over the signing input.
    /// No code of the service is used.
    /// </summary>
    private static JsonObject VerifyAsStranger(JsonArray keySet, string jws, string expectedKid)
    {
        var parts = jws.Split('.');
        var header = JsonNode.Parse(FromBase64Url(parts[0]))!;
        Assert.Equal("ES256", header["alg"]!.GetValue<string>());
        var kid = header["kid"]!.GetValue<string>();
        Assert.Equal(expectedKid, kid);
        var jwk = Assert.Single(keySet, k => k!["kid"]!.GetValue<string>() == kid)!;
        Assert.Equal(("EC", "P-256"), (jwk["kty"]!.GetValue<string>(), jwk["crv"]!.GetValue<string>()));
        using var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = FromBase64Url(jwk["x"]!.GetValue<string>()), Y = FromBase64Url(jwk["y"]!.GetValue<string>()) },
        });
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), FromBase64Url(parts[2]),
            HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation), $"The signature does not verify with published key {kid}");
        return JsonNode.Parse(FromBase64Url(parts[1]))!.AsObject();
    }

    private static async Task<JsonObject> SealAsync(ConsentApiFactory instance, TestSite site)
    {
        using var admin = instance.ClientWithKey(site.AdminKey);
        return await ReadJsonAsync(await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null), HttpStatusCode.Created);
    }

    private static async Task<JsonObject> VerifyLedgerAsync(ConsentApiFactory instance, TestSite site)
    {
        using var legal = instance.ClientWithKey(site.LegalKey);
        return await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
    }

    private static Task<JsonObject> RecordAsync(ConsentApiFactory instance, TestSite site) =>
        instance.RecordAsync(site.Id, new { policyVersion = 1, method = "accept_all" });

    // ---- the done-when test ----------------------------------------------------------------------

    [Fact]
    public async Task After_two_rotations_every_receipt_and_checkpoint_of_each_period_verifies_with_the_published_key_set_alone()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        TestKey[] keys = [TestKey.New(), TestKey.New(), TestKey.New()];
        var issued = new List<(string Jws, string Kid, string What)>();
        TestSite? site = null;
        var firstRecordId = "";
        try
        {
            for (var period = 0; period < 3; period++)
            {
                // The operator's rotation: a new Signing:PrivateKey, and the kids being retired (an already retired one is ignored).
                var settings = Enumerable.Range(0, period).Select(i => ($"Signing:RetiredKeys:{i}", keys[i].Kid)).ToArray();
                using var instance = Instance(directory, keys[period], settings);
                instance.Time.Advance(TimeSpan.FromDays(30 * period));
                site ??= await instance.CreateSiteAsync();
                for (var n = 0; n < 2; n++)
                {
                    var record = await RecordAsync(instance, site);
                    firstRecordId = firstRecordId is "" ? record["id"]!.GetValue<string>() : firstRecordId;
                    issued.Add((record["receipt"]!["batchHead"]!.GetValue<string>(), keys[period].Kid, $"receipt of period {period}"));
                }
                var checkpoint = await SealAsync(instance, site);
                issued.Add((checkpoint["signedTreeHead"]!.GetValue<string>(), keys[period].Kid, $"checkpoint of period {period}"));
                if (period < 2) continue;

                // A stranger, after the second rotation, with nothing but the published key set.
                var published = await PublishedKeysAsync(instance);
                Assert.Equal([keys[2].Kid, keys[1].Kid, keys[0].Kid], published.Select(k => k!["kid"]!.GetValue<string>())); // newest first
                Assert.Equal(["active", "retired", "retired"], published.Select(k => k!["status"]!.GetValue<string>()));
                var start = new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
                for (var i = 0; i < 3; i++)
                {
                    var jwk = published.Single(k => k!["kid"]!.GetValue<string>() == keys[i].Kid)!;
                    Assert.Equal(start.AddDays(30 * i), jwk["activatedAt"]!.GetValue<DateTimeOffset>());
                    Assert.Equal(i < 2 ? start.AddDays(30 * (i + 1)) : null, jwk["retiredAt"]?.GetValue<DateTimeOffset>());
                    Assert.Null(jwk["compromisedAt"]);
                    Assert.Null(jwk["d"]);
                }
                foreach (var (jws, kid, what) in issued)
                {
                    var payload = VerifyAsStranger(published, jws, kid);
                    Assert.True(payload.Count > 0, what);
                }
                // A record of the first period, asked for now, comes with a receipt by today's key; both verify.
                using var legal = instance.ClientWithKey(site.LegalKey);
                var proof = await ReadJsonAsync(await legal.GetAsync($"/v1/sites/{site.Id}/consents/{firstRecordId}"));
                VerifyAsStranger(published, proof["receipt"]!["batchHead"]!.GetValue<string>(), keys[2].Kid);
                VerifyAsStranger(published, proof["checkpoint"]!["signedTreeHead"]!.GetValue<string>(), keys[2].Kid);

                // ledger/verify checks each checkpoint with the key its header names: all three periods pass.
                var report = await VerifyLedgerAsync(instance, site);
                Assert.True(report["valid"]!.GetValue<bool>(), report.ToJsonString());
                Assert.Equal(3, report["checkpoints"]!.GetValue<int>());
            }
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    // ---- one key per deployment ------------------------------------------------------------------

    [Fact]
    public async Task A_second_instance_with_another_key_refuses_to_sign_says_why_and_writes_nothing()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        var (k1, k2) = (TestKey.New(), TestKey.New());
        try
        {
            using var first = Instance(directory, k1);
            var site = await first.CreateSiteAsync();
            await RecordAsync(first, site);

            var log = new LogCapture();
            using var second = Beside(first, k2, log);
            using var anonymous = second.CreateClient();
            Assert.Contains($"Error: Refusing to sign receipts and checkpoints: The deployment's active signing key is {k1.Kid}; this instance holds {k2.Kid}", log.Text);
            var rows = await first.CountRowsAsync("consents");
            var refused = await AssertProblemAsync(await anonymous.PostConsentAsync(site.Id, new { policyVersion = 1, method = "accept_all" }),
                HttpStatusCode.ServiceUnavailable, "signing-key-not-active");
            var detail = refused["detail"]!.GetValue<string>();
            Assert.Contains(k1.Kid, detail); // which key is active
            Assert.Contains(k2.Kid, detail); // which this instance holds
            Assert.Contains("Signing:RetiredKeys", detail);
            Assert.Equal(rows, await first.CountRowsAsync("consents")); // the refused write changed nothing

            using (var admin = second.ClientWithKey(site.AdminKey))
            {
                await AssertProblemAsync(await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null),
                    HttpStatusCode.ServiceUnavailable, "signing-key-not-active");
            }
            Assert.Equal(0, await first.CountRowsAsync("checkpoints"));

            var health = await anonymous.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            var signing = JsonNode.Parse(await health.Content.ReadAsStringAsync())!["checks"]!["signing"]!;
            Assert.Equal("Unhealthy", signing["status"]!.GetValue<string>());
            Assert.Contains(k1.Kid, signing["description"]!.GetValue<string>());

            // The first instance signs on; both publish the deployment's one key, not their own.
            await RecordAsync(first, site);
            using (var firstClient = first.CreateClient())
            {
                Assert.Equal(HttpStatusCode.OK, (await firstClient.GetAsync("/health/ready")).StatusCode);
            }
            Assert.Equal([k1.Kid], (await PublishedKeysAsync(second)).Select(k => k!["kid"]!.GetValue<string>()));
            Assert.Equal([k1.Kid], (await PublishedKeysAsync(first)).Select(k => k!["kid"]!.GetValue<string>()));
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    [Fact]
    public async Task An_instance_rotated_out_by_another_stops_signing_within_the_stated_recheck_and_its_last_receipts_still_verify()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        var (k1, k2) = (TestKey.New(), TestKey.New());
        try
        {
            using var old = Instance(directory, k1);
            var site = await old.CreateSiteAsync();
            var before = await RecordAsync(old, site);

            using var rotated = Beside(old, k2, ("Signing:RetiredKeys:0", k1.Kid));
            var after = await RecordAsync(rotated, site);

            // Within Signing:ActiveKeyRecheck (5 s) of the rotation the old instance may still sign with k1 ...
            var late = await RecordAsync(old, site);
            // ... and not one moment after it.
            old.Time.Advance(TimeSpan.FromSeconds(5));
            using var client = old.CreateClient();
            var rows = await old.CountRowsAsync("consents");
            var refused = await AssertProblemAsync(await client.PostConsentAsync(site.Id, new { policyVersion = 1, method = "accept_all" }),
                HttpStatusCode.ServiceUnavailable, "signing-key-not-active");
            Assert.Contains("retired", refused["detail"]!.GetValue<string>());
            Assert.Equal(rows, await old.CountRowsAsync("consents"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
            using (var admin = old.ClientWithKey(site.AdminKey))
            {
                await AssertProblemAsync(await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null),
                    HttpStatusCode.ServiceUnavailable, "signing-key-not-active");
            }

            // The old instance's key set shows the rotation too, and every receipt verifies with it.
            var published = await PublishedKeysAsync(old);
            Assert.Equal([(k2.Kid, "active"), (k1.Kid, "retired")],
                published.Select(k => (k!["kid"]!.GetValue<string>(), k["status"]!.GetValue<string>())));
            VerifyAsStranger(published, before["receipt"]!["batchHead"]!.GetValue<string>(), k1.Kid);
            VerifyAsStranger(published, late["receipt"]!["batchHead"]!.GetValue<string>(), k1.Kid);
            VerifyAsStranger(published, after["receipt"]!["batchHead"]!.GetValue<string>(), k2.Kid);
            await SealAsync(rotated, site);
            Assert.True((await VerifyLedgerAsync(rotated, site))["valid"]!.GetValue<bool>());
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    [Fact]
    public async Task A_restarted_instance_keeps_its_registered_key_and_a_retired_key_cannot_come_back()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        var (k1, k2) = (TestKey.New(), TestKey.New());
        try
        {
            TestSite site;
            using (var first = Instance(directory, k1))
            {
                site = await first.CreateSiteAsync();
            }
            using (var again = Instance(directory, k1))
            {
                await RecordAsync(again, site); // a restart with the same key signs on
            }
            using (var rotated = Instance(directory, k2, ("Signing:RetiredKeys:0", k1.Kid)))
            {
                await RecordAsync(rotated, site);
            }
            // Rolling back: k1 with k2 declared retired. A retired key never signs again: start-up stops, saying so.
            using var back = Instance(directory, k1, ("Signing:RetiredKeys:0", k2.Kid));
            var error = StartFailure(back);
            Assert.Contains("Signing:PrivateKey", error);
            Assert.Contains("retired", error);
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    // ---- compromise and verification by kid -------------------------------------------------------

    [Fact]
    public async Task A_compromised_key_is_published_so_and_ledger_verify_reports_checkpoints_it_signed_from_then_on()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        var (k1, k2) = (TestKey.New(), TestKey.New());
        var t0 = new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
        try
        {
            TestSite site;
            using (var first = Instance(directory, k1))
            {
                site = await first.CreateSiteAsync();
                await RecordAsync(first, site);
                await SealAsync(first, site); // signed at t0
            }
            // Compromised since an hour before that checkpoint: rotate away and declare it.
            using (var rotated = Instance(directory, k2, ("Signing:RetiredKeys:0", k1.Kid), ($"Signing:CompromisedKeys:{k1.Kid}", "2026-11-25T08:00:00Z")))
            {
                var jwk = (await PublishedKeysAsync(rotated)).Single(k => k!["kid"]!.GetValue<string>() == k1.Kid)!;
                Assert.Equal("compromised", jwk["status"]!.GetValue<string>());
                Assert.Equal(t0.AddHours(-1), jwk["compromisedAt"]!.GetValue<DateTimeOffset>());
                Assert.Equal(t0, jwk["retiredAt"]!.GetValue<DateTimeOffset>());
                var report = await VerifyLedgerAsync(rotated, site);
                Assert.False(report["valid"]!.GetValue<bool>());
                Assert.Equal("checkpoint-compromised-key", report["firstBreak"]!["kind"]!.GetValue<string>());
                Assert.Contains(k1.Kid, report["firstBreak"]!["detail"]!.GetValue<string>());
            }
            // The operator corrects the time (any offset): compromised from t0 exactly still covers a checkpoint signed at t0 ...
            using (var corrected = Instance(directory, k2, ($"Signing:CompromisedKeys:{k1.Kid}", "2026-11-25T10:00:00+01:00")))
            {
                Assert.Equal(t0, (await PublishedKeysAsync(corrected)).Single(k => k!["kid"]!.GetValue<string>() == k1.Kid)!["compromisedAt"]!.GetValue<DateTimeOffset>());
                Assert.False((await VerifyLedgerAsync(corrected, site))["valid"]!.GetValue<bool>());
            }
            // ... and compromised only from after it, the checkpoint stands.
            using (var later = Instance(directory, k2, ($"Signing:CompromisedKeys:{k1.Kid}", "2026-11-25T09:00:00.001Z")))
            {
                Assert.True((await VerifyLedgerAsync(later, site))["valid"]!.GetValue<bool>());
            }
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    [Fact]
    public async Task Ledger_verify_checks_each_checkpoint_with_the_key_its_header_names_and_an_unknown_kid_is_a_break()
    {
        using var factory = new ConsentApiFactory();
        var site = await factory.CreateSiteAsync();
        await RecordAsync(factory, site);
        var checkpoint = await SealAsync(factory, site);
        var parts = checkpoint["signedTreeHead"]!.GetValue<string>().Split('.');
        var header = JsonNode.Parse(FromBase64Url(parts[0]))!.AsObject();
        var realKid = header["kid"]!.GetValue<string>();

        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string Forge(string kid)
        {
            header["kid"] = kid;
            var signingInput = $"{Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString()))}.{parts[1]}";
            return $"{signingInput}.{Base64Url(stranger.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))}";
        }

        // Signed by a key the deployment never had, naming it: the set has no such kid.
        await factory.ExecuteSqlAsync("UPDATE checkpoints SET signature = $s WHERE site_id = $site", ("$s", Forge(TestKey.From(stranger).Kid)), ("$site", site.Id));
        var report = await VerifyLedgerAsync(factory, site);
        Assert.Equal("checkpoint-unknown-key", report["firstBreak"]!["kind"]!.GetValue<string>());

        // Signed by that key but naming the deployment's: checked with the named key, it fails.
        await factory.ExecuteSqlAsync("UPDATE checkpoints SET signature = $s WHERE site_id = $site", ("$s", Forge(realKid)), ("$site", site.Id));
        report = await VerifyLedgerAsync(factory, site);
        Assert.Equal("checkpoint-signature", report["firstBreak"]!["kind"]!.GetValue<string>());
    }

    // ---- start-up: the settings, the key, Production on MongoDB -----------------------------------

    [Fact]
    public void Production_on_mongodb_without_a_signing_key_stops_start_up_naming_the_setting()
    {
        using var factory = new ConsentApiFactory
        {
            Settings = new Dictionary<string, string> { ["ConnectionStrings:Mongo"] = "mongodb://127.0.0.1:1/consent_keys?serverSelectionTimeoutMS=100" },
        };
        using var production = factory.WithWebHostBuilder(b => b.UseEnvironment("Production"));
        var watch = Stopwatch.StartNew();
        var error = StartFailure(production);
        Assert.Contains("Signing:PrivateKey is required in Production on MongoDB", error);
        Assert.Contains("openssl", error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "The check must come before any attempt to reach MongoDB");
    }

    [Fact]
    public async Task On_sqlite_the_key_is_generated_into_the_data_folder_0600_registered_and_found_in_no_other_file()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        using var factory = Instance(directory, key: null);
        var site = await factory.CreateSiteAsync();
        var record = await RecordAsync(factory, site);
        await SealAsync(factory, site);
        var path = Path.Combine(factory.DataDirectory, "signing-key.pem");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        using var generated = ECDsa.Create();
        generated.ImportFromPem(await File.ReadAllTextAsync(path));
        var key = TestKey.From(generated);
        var published = await PublishedKeysAsync(factory);
        VerifyAsStranger(published, record["receipt"]!["batchHead"]!.GetValue<string>(), key.Kid);

        factory.Dispose();
        try
        {
            AssertNoTrace(directory, [key], except: path, published.ToJsonString());
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    public static TheoryData<string, string> UnusableKeys()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new()
        {
            { p384.ExportPkcs8PrivateKeyPem(), "ES256 needs the curve P-256" },
            { rsa.ExportPkcs8PrivateKeyPem(), "is an RSA key" },
            { rsa.ExportRSAPrivateKeyPem(), "is an RSA key" },
            { p256.ExportSubjectPublicKeyInfoPem(), "holds a public key only" },
            { p256.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000)), "encrypted" },
            { p256.ExportPkcs8PrivateKeyPem()[..120] + "\n-----END PRIVATE KEY-----", "corrupt" },
            { "not a key", "not a readable PEM" },
        };
    }

    [Theory]
    [MemberData(nameof(UnusableKeys))]
    public void An_unusable_configured_key_stops_start_up_naming_the_setting_and_the_fix_without_echoing_the_key(string pem, string reason)
    {
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { ["Signing:PrivateKey"] = pem } };
        var error = StartFailure(factory);
        Assert.Contains("Signing:PrivateKey", error);
        Assert.Contains(reason, error);
        Assert.Contains("openssl ecparam -name prime256v1", error);
        AssertNoPemBody(pem, error);
    }

    [Fact]
    public async Task An_unusable_key_file_in_the_data_folder_stops_start_up_naming_the_file()
    {
        using var factory = new ConsentApiFactory();
        Directory.CreateDirectory(factory.DataDirectory);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var path = Path.Combine(factory.DataDirectory, "signing-key.pem");
        await File.WriteAllTextAsync(path, p384.ExportPkcs8PrivateKeyPem());
        var error = StartFailure(factory);
        Assert.Contains(path, error);
        Assert.Contains("P-256", error);
        AssertNoPemBody(p384.ExportPkcs8PrivateKeyPem(), error);
    }

    [Fact]
    public async Task The_real_process_with_a_wrong_curve_key_exits_1_with_the_setting_named_not_an_abort()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var pem = p384.ExportPkcs8PrivateKeyPem();
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                ServiceProcess.StartAsync(directory, new Dictionary<string, string?> { ["Signing__PrivateKey"] = pem }));
            Assert.StartsWith("The service exited with 1:", error.Message); // not 134 (SIGABRT)
            Assert.Contains("ConsentService cannot start: ", error.Message);
            Assert.Contains("Signing:PrivateKey is an ECDSA key on", error.Message);
            AssertNoPemBody(pem, error.Message);
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { "Signing:RetiredKeys:0", "not-a-kid", "Signing:RetiredKeys:0 is not a key id" },
        { "Signing:CompromisedKeys:" + new string('A', 43), "yesterday", $"Signing:CompromisedKeys:{new string('A', 43)} must be" },
        { "Signing:CompromisedKeys:" + new string('A', 43), "2026-11-25T09:00:00", "ISO 8601 with its offset" },
        { "Signing:CompromisedKeys:short", "2026-11-25T09:00:00Z", "Signing:CompromisedKeys has an entry whose name is not a key id" },
        { "Signing:ActiveKeyRecheck", "00:00:00", "Signing:ActiveKeyRecheck" },
        { "Signing:RetiredKeys:0", new string('B', 43), "Signing:RetiredKeys:0" }, // a kid the deployment never had
        { "Signing:CompromisedKeys:" + new string('B', 43), "2026-11-25T09:00:00Z", "names no key this deployment has signed with" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void A_bad_signing_setting_stops_start_up_naming_it(string setting, string value, string message)
    {
        using var factory = new ConsentApiFactory { Settings = new Dictionary<string, string> { [setting] = value } };
        var error = StartFailure(factory);
        Assert.Contains(message, error);
    }

    [Fact]
    public void Retiring_or_compromising_the_instances_own_key_stops_start_up()
    {
        var key = TestKey.New();
        foreach (var (setting, fragment) in new[] { ("Signing:RetiredKeys:0", "names this instance's own key"), ($"Signing:CompromisedKeys:{key.Kid}", "a compromised key must not sign") })
        {
            var directory = ConsentApiFactory.NewDataDirectory();
            try
            {
                using (var first = Instance(directory, key))
                {
                    first.CreateClient().Dispose();
                }
                using var again = Instance(directory, key, (setting, setting.StartsWith("Signing:Retired", StringComparison.Ordinal) ? key.Kid : "2026-11-25T09:00:00Z"));
                var error = StartFailure(again);
                Assert.Contains(fragment, error);
            }
            finally
            {
                DeleteDirectory(directory);
            }
        }
    }

    [Fact]
    public async Task The_key_the_readme_openssl_command_makes_is_accepted_and_published_under_its_thumbprint()
    {
        var start = new ProcessStartInfo("bash", ["-c", SigningKeyPem.MakeOne]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var openssl = Process.Start(start)!;
        var pem = await openssl.StandardOutput.ReadToEndAsync();
        await openssl.WaitForExitAsync();
        Assert.Equal(0, openssl.ExitCode);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", pem);
        var readme = await File.ReadAllTextAsync(Path.Combine(ConsentService.Tests.Api.OpenApiAndHealthTests.RepositoryRoot(), "README.md"));
        Assert.Contains(SigningKeyPem.MakeOne, readme);

        using var imported = ECDsa.Create();
        imported.ImportFromPem(pem);
        var key = TestKey.From(imported);
        var directory = ConsentApiFactory.NewDataDirectory();
        try
        {
            using var factory = Instance(directory, key with { Pem = pem });
            var site = await factory.CreateSiteAsync();
            var record = await RecordAsync(factory, site);
            VerifyAsStranger(await PublishedKeysAsync(factory), record["receipt"]!["batchHead"]!.GetValue<string>(), key.Kid);
            Assert.False(File.Exists(Path.Combine(directory, "signing-key.pem"))); // a configured key is not copied anywhere
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    // ---- the private key never leaks --------------------------------------------------------------

    [Fact]
    public async Task The_private_keys_are_in_no_file_of_the_data_folder_and_no_response_after_writes_a_rotation_and_a_refusal()
    {
        var directory = ConsentApiFactory.NewDataDirectory();
        var (k1, k2) = (TestKey.New(), TestKey.New());
        var responses = new StringBuilder();
        var log = new LogCapture();
        async Task<string> Keep(HttpResponseMessage response)
        {
            var text = await response.Content.ReadAsStringAsync();
            responses.AppendLine(text);
            return text;
        }
        try
        {
            TestSite site;
            using (var first = Instance(directory, k1, log))
            {
                site = await first.CreateSiteAsync();
                for (var i = 0; i < 5; i++) await RecordAsync(first, site);
                await SealAsync(first, site);
                using var anonymous = first.CreateClient();
                await Keep(await anonymous.GetAsync("/.well-known/consent-signing-key"));
            }
            using (var rotated = Instance(directory, k2, log, ("Signing:RetiredKeys:0", k1.Kid), ($"Signing:CompromisedKeys:{k1.Kid}", "2026-12-01T00:00:00Z")))
            {
                for (var i = 0; i < 5; i++) await RecordAsync(rotated, site);
                await SealAsync(rotated, site);
                using var anonymous = rotated.CreateClient();
                await Keep(await anonymous.GetAsync("/.well-known/consent-signing-key"));
                await Keep(await anonymous.GetAsync("/health/ready"));
                using var legal = rotated.ClientWithKey(site.LegalKey);
                await Keep(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/verify"));
                await Keep(await legal.GetAsync($"/v1/sites/{site.Id}/ledger/checkpoints"));

                // An old instance still holding k1 beside it: refused, and says so without its key.
                using var stale = Beside(rotated, k1, log);
                using var staleClient = stale.CreateClient();
                Assert.Contains("signing-key-not-active", await Keep(await staleClient.PostConsentAsync(site.Id, new { policyVersion = 1, method = "accept_all" })));
                Assert.Contains("Unhealthy", await Keep(await staleClient.GetAsync("/health/ready")));
            }
            // A failed start's message.
            using (var broken = Instance(directory, k2, ("Signing:RetiredKeys:0", "not-a-kid")))
            {
                responses.AppendLine(StartFailure(broken));
            }
            Assert.Empty(Directory.GetFiles(directory, "*.pem", SearchOption.AllDirectories)); // configured keys are not copied into the folder
            Assert.Contains("Rotated the signing key", log.Text);
            Assert.Contains("Refusing to sign", log.Text);
            AssertNoTrace(directory, [k1, k2], except: null, responses + log.Text); // answers, start-up errors and every log line
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    /// <summary>Every file of the folder (but <paramref name="except"/>) and <paramref name="text"/> hold no form of any key's private scalar or PEM body.</summary>
    private static void AssertNoTrace(string directory, IEnumerable<TestKey> keys, string? except, string text)
    {
        SqliteConnection.ClearAllPools();
        var files = Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Where(f => f != except).ToList();
        Assert.Contains(files, f => f.EndsWith("consent.db", StringComparison.Ordinal));
        foreach (var key in keys)
        {
            var forms = new List<byte[]> { key.D };
            forms.AddRange(new[]
            {
                Base64Url(key.D), Convert.ToBase64String(key.D), Convert.ToHexStringLower(key.D), Convert.ToHexString(key.D),
                PemBody(key.Pem), PemBody(key.Pem)[..40],
            }.Select(Encoding.ASCII.GetBytes));
            foreach (var file in files)
            {
                var bytes = File.ReadAllBytes(file);
                foreach (var form in forms)
                {
                    Assert.True(bytes.AsSpan().IndexOf(form) < 0, $"{Path.GetFileName(file)} holds the private key of {key.Kid}");
                }
            }
            foreach (var form in forms.Skip(1))
            {
                Assert.DoesNotContain(Encoding.ASCII.GetString(form), text, StringComparison.Ordinal);
            }
        }
    }

    private static string PemBody(string pem) =>
        string.Concat(pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal)).Select(l => l.Trim()));

    private static void AssertNoPemBody(string pem, string text)
    {
        foreach (var line in pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal) && l.Trim().Length >= 16))
        {
            Assert.DoesNotContain(line.Trim(), text, StringComparison.Ordinal);
        }
    }
}
