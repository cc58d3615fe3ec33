using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Tests.Api;
using ConsentService.Tests.Infrastructure;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Legal;

/// <summary>
/// The README's "Verify a receipt yourself", run as a regulator would: the files the service hands out
/// (a 201 with its receipt, the public JWK set, the public policy version, the record with its
/// inclusion proof) saved to a folder, then <c>node scripts/verify-receipt.mjs</c>, offline. It must
/// say VERIFIED for the real files and BROKEN, naming the check, for any edit.
/// </summary>
public sealed class StrangerCheckTests(ConsentApiFactory factory) : IClassFixture<ConsentApiFactory>, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("receipt-check-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed record Files(string Receipt, string Jwks, string Policy, string Proof, JsonObject Created);

    /// <summary>Records five decisions, seals them, and saves what a stranger gets for the fourth: the same calls as the README's curl lines.</summary>
    private async Task<Files> SaveFilesAsync()
    {
        var site = await factory.CreateSiteAsync();
        var records = new List<JsonObject>();
        for (var i = 0; i < 5; i++)
        {
            records.Add(await factory.RecordAsync(site.Id, new
            {
                policyVersion = 1, method = "custom", purposes = new { analytics = i % 2 == 0, marketing = i == 3 },
                source = new { url = $"https://shop.example/page/{i}", locale = "de-AT" },
            }));
        }
        using (var admin = factory.ClientWithKey(site.AdminKey))
        {
            (await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null)).EnsureSuccessStatusCode();
        }
        var created = records[3];
        using var anonymous = factory.CreateClient();
        using var legal = factory.ClientWithKey(site.LegalKey);
        var files = new Files(Path.Combine(_folder, "receipt.json"), Path.Combine(_folder, "jwks.json"), Path.Combine(_folder, "policy.json"),
            Path.Combine(_folder, "proof.json"), created);
        await File.WriteAllTextAsync(files.Receipt, created.ToJsonString());
        await File.WriteAllTextAsync(files.Jwks, await anonymous.GetStringAsync("/.well-known/consent-signing-key"));
        await File.WriteAllTextAsync(files.Policy, await anonymous.GetStringAsync($"/v1/sites/{site.Id}/policies/1"));
        await File.WriteAllTextAsync(files.Proof, await legal.GetStringAsync($"/v1/sites/{site.Id}/consents/{created["id"]}"));
        return files;
    }

    private static async Task<(int ExitCode, string Output)> CheckAsync(Files files, bool withProof = true)
    {
        var script = Path.Combine(OpenApiAndHealthTests.RepositoryRoot(), "scripts", "verify-receipt.mjs");
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { script, "--receipt", files.Receipt, "--jwks", files.Jwks, "--policy", files.Policy })
        {
            start.ArgumentList.Add(arg);
        }
        if (withProof)
        {
            start.ArgumentList.Add("--proof");
            start.ArgumentList.Add(files.Proof);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await error);
    }

    private static async Task EditJsonAsync(string path, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
        edit(json);
        await File.WriteAllTextAsync(path, json.ToJsonString());
    }

    private static async Task EditReceiptPayloadAsync(Files files, Func<string, string> edit)
    {
        await EditJsonAsync(files.Receipt, created =>
        {
            var parts = created["receipt"]!.GetValue<string>().Split('.');
            var payload = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]));
            var edited = edit(payload);
            Assert.NotEqual(payload, edited);
            parts[1] = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(edited));
            created["receipt"] = string.Join('.', parts);
        });
    }

    [Fact]
    public async Task The_files_the_service_hands_out_verify_offline_with_the_script()
    {
        var files = await SaveFilesAsync();

        var (exitCode, output) = await CheckAsync(files);

        Assert.True(exitCode == 0, output);
        Assert.EndsWith("VERIFIED", output.TrimEnd());
        foreach (var check in new[] { "receipt signature", "record hash", "policy content", "policy bound by the record", "leaf index", "inclusion proof", "tree head signature", "signed tree head" })
        {
            Assert.Contains($"ok      {check}", output);
        }
        Assert.Contains(files.Created["hash"]!.GetValue<string>(), output);
        Assert.Contains("(tree of 5 records)", output); // a real audit path, not a one-leaf tree
        // Without a proof it checks the rest; a bare JWS works as well as the 201 it came in.
        await File.WriteAllTextAsync(files.Receipt, files.Created["receipt"]!.GetValue<string>());
        var (bareExit, bareOutput) = await CheckAsync(files, withProof: false);
        Assert.True(bareExit == 0, bareOutput);
    }

    [Fact]
    public async Task A_purpose_flipped_in_the_receipt_is_reported_as_a_broken_signature_and_hash()
    {
        var files = await SaveFilesAsync();
        await EditReceiptPayloadAsync(files, payload => payload.Replace("\"marketing\":true", "\"marketing\":false", StringComparison.Ordinal));

        var (exitCode, output) = await CheckAsync(files);

        Assert.True(exitCode == 1, output);
        Assert.Contains("BROKEN  receipt signature", output);
        Assert.Contains("BROKEN  record hash", output);
        Assert.Contains("BROKEN (", output);
    }

    [Fact]
    public async Task One_byte_changed_in_the_signed_payload_breaks_the_signature()
    {
        var files = await SaveFilesAsync();
        // One character of the record's time: the hash no longer matches either.
        await EditReceiptPayloadAsync(files, payload =>
        {
            var at = payload.IndexOf("\"recordedAt\":\"", StringComparison.Ordinal) + "\"recordedAt\":\"".Length + 3;
            return payload[..at] + (payload[at] == '7' ? '8' : '7') + payload[(at + 1)..];
        });

        var (exitCode, output) = await CheckAsync(files);

        Assert.True(exitCode == 1, output);
        Assert.Contains("BROKEN  receipt signature", output);
        Assert.Contains("BROKEN  record hash", output);
    }

    [Fact]
    public async Task A_receipt_checked_against_another_key_is_broken()
    {
        var files = await SaveFilesAsync();
        await EditJsonAsync(files.Jwks, set =>
        {
            using var other = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var q = other.ExportParameters(false).Q;
            var key = set["keys"]![0]!.AsObject();
            key["x"] = System.Buffers.Text.Base64Url.EncodeToString(q.X);
            key["y"] = System.Buffers.Text.Base64Url.EncodeToString(q.Y);
        });

        var (exitCode, output) = await CheckAsync(files);

        Assert.True(exitCode == 1, output);
        Assert.Contains("BROKEN  receipt signature", output);
        Assert.Contains("BROKEN  tree head signature", output);
        Assert.Contains("ok      record hash", output); // the content itself is intact
    }

    [Fact]
    public async Task An_edited_policy_text_or_another_policy_version_is_broken()
    {
        var files = await SaveFilesAsync();
        var original = await File.ReadAllTextAsync(files.Policy);
        await EditJsonAsync(files.Policy, policy =>
        {
            var purpose = policy["purposes"]!.AsArray().First(p => p!["id"]!.GetValue<string>() == "analytics")!.AsObject();
            purpose["required"] = true; // what the visitor was shown, rewritten
        });

        var (exitCode, output) = await CheckAsync(files);
        Assert.True(exitCode == 1, output);
        Assert.Contains("BROKEN  policy content", output);

        // A genuine policy file, but not the one the record names: its own hash holds, the binding does not.
        await File.WriteAllTextAsync(files.Policy, original);
        await EditJsonAsync(files.Policy, policy =>
        {
            policy["purposes"]!.AsArray().RemoveAt(policy["purposes"]!.AsArray().Count - 1);
            var content = new JsonObject { ["purposes"] = policy["purposes"]!.DeepClone(), ["texts"] = policy["texts"]!.DeepClone() };
            if (policy.ContainsKey("privacyPolicyUrl")) content["privacyPolicyUrl"] = policy["privacyPolicyUrl"]?.DeepClone();
            policy["contentHash"] = ConsentService.Infrastructure.CanonicalJson.Sha256Hex(content);
        });
        (exitCode, output) = await CheckAsync(files);
        Assert.True(exitCode == 1, output);
        Assert.Contains("ok      policy content", output);
        Assert.Contains("BROKEN  policy bound by the record", output);
    }

    [Fact]
    public async Task An_edited_audit_path_or_tree_head_is_broken()
    {
        var files = await SaveFilesAsync();
        var original = await File.ReadAllTextAsync(files.Proof);
        await EditJsonAsync(files.Proof, proof =>
        {
            var path = proof["checkpoint"]!["auditPath"]!.AsArray();
            var first = path[0]!.GetValue<string>();
            path[0] = (first[0] == 'a' ? "b" : "a") + first[1..];
        });
        var (exitCode, output) = await CheckAsync(files);
        Assert.True(exitCode == 1, output);
        Assert.Contains("BROKEN  inclusion proof", output);

        // A root that fits a forged path: the signed tree head still names the real one.
        await File.WriteAllTextAsync(files.Proof, original);
        await EditJsonAsync(files.Proof, proof => proof["checkpoint"]!["rootHash"] = new string('0', 64));
        (exitCode, output) = await CheckAsync(files);
        Assert.True(exitCode == 1, output);
        Assert.Contains("BROKEN  inclusion proof", output);
        Assert.Contains("BROKEN  signed tree head", output);
    }
}
