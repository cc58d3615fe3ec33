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

    private sealed record Files(string Receipt, string Jwks, string Policy, string Proof, JsonObject Created, JsonObject Neighbour, JsonObject OtherBatch);

    /// <summary>
    /// Records decisions sent together while the write lock is held elsewhere (so that they share commit batches), seals them, and saves what a stranger gets
    /// for one record of a batch of several: the same calls as the README's curl lines. Also keeps a neighbour of the
    /// same batch and a receipt of another batch, for the edits.
    /// </summary>
    private async Task<Files> SaveFilesAsync()
    {
        var site = await factory.CreateSiteAsync();
        var records = new List<JsonObject>();
        List<IGrouping<string, JsonObject>> batches = [];
        for (var round = 0; round < 2; round++)
        {
            records.AddRange(await factory.RunAsync(6, i => factory.RecordAsync(site.Id, new
            {
                policyVersion = 1, method = "custom", purposes = new { analytics = i % 2 == 0, marketing = true },
                source = new { url = $"https://shop.example/page/{i}", locale = "de-AT" },
            })));
            batches = [.. records.GroupBy(r => r["receipt"]!["batchHead"]!.GetValue<string>())];
        }
        var shared = batches.Where(b => b.Count() >= 2).ToList();
        Assert.True(shared.Count >= 2, "two commit batches of two or more records are needed");
        using (var admin = factory.ClientWithKey(site.AdminKey))
        {
            (await admin.PostAsync($"/v1/sites/{site.Id}/ledger/checkpoints", null)).EnsureSuccessStatusCode();
        }
        var created = shared[0].First();
        using var anonymous = factory.CreateClient();
        using var legal = factory.ClientWithKey(site.LegalKey);
        var files = new Files(Path.Combine(_folder, "receipt.json"), Path.Combine(_folder, "jwks.json"), Path.Combine(_folder, "policy.json"),
            Path.Combine(_folder, "proof.json"), created, shared[0].Last(), shared[1].First());
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

    private static Task EditReceiptAsync(Files files, Action<JsonObject> edit) => EditJsonAsync(files.Receipt, created =>
    {
        var before = created.ToJsonString();
        edit(created["receipt"]!.AsObject());
        Assert.NotEqual(before, created.ToJsonString());
    });

    private static string EditPayload(string jws, Func<JsonObject, JsonObject> edit)
    {
        var parts = jws.Split('.');
        var payload = JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]))!.AsObject();
        parts[1] = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(edit(payload).ToJsonString()));
        return string.Join('.', parts);
    }

    private static readonly string[] AllChecks = ["batch head signature", "record hash", "batch inclusion", "batch head", "policy content",
        "policy bound by the record", "leaf index", "inclusion proof", "tree head signature", "signed tree head"];

    [Fact]
    public async Task The_files_the_service_hands_out_verify_offline_with_the_script()
    {
        var files = await SaveFilesAsync();

        var (exitCode, output) = await CheckAsync(files);

        Assert.True(exitCode == 0, output);
        Assert.EndsWith("VERIFIED", output.TrimEnd());
        foreach (var check in AllChecks)
        {
            Assert.Contains($"ok      {check}:", output);
        }
        Assert.Contains(files.Created["hash"]!.GetValue<string>(), output);
        Assert.Matches(@"ok      batch inclusion: leaf \d+ of ([2-9]|\d\d+) ", output); // a real batch path, not a one-leaf tree
        Assert.Matches(@"\(tree of ([2-9]|\d\d+) records\)", output); // the checkpoint: a real audit path too
        // Without a proof it checks the rest; the receipt member alone works as well as the 201 it came in.
        await File.WriteAllTextAsync(files.Receipt, files.Created["receipt"]!.ToJsonString());
        var (bareExit, bareOutput) = await CheckAsync(files, withProof: false);
        Assert.True(bareExit == 0, bareOutput);
        Assert.DoesNotContain("inclusion proof", bareOutput);
    }

    [Fact]
    public async Task A_purpose_flipped_in_the_receipt_is_reported_as_a_broken_hash_and_batch_inclusion()
    {
        var files = await SaveFilesAsync();
        await EditReceiptAsync(files, receipt => receipt["record"]!["purposes"]!["marketing"] = false);

        var (exitCode, output) = await CheckAsync(files);

        Assert.True(exitCode == 1, output);
        Assert.Contains("ok      batch head signature", output); // the head is genuine; the record no longer leads to it
        Assert.Contains("BROKEN  record hash", output);
        Assert.Contains("BROKEN  batch inclusion", output);
        Assert.Contains("BROKEN (", output);
    }

    [Fact]
    public async Task One_character_of_the_record_time_changed_with_its_hash_recomputed_still_breaks_the_inclusion()
    {
        var files = await SaveFilesAsync();
        await EditReceiptAsync(files, receipt =>
        {
            var at = receipt["record"]!["recordedAt"]!.GetValue<string>();
            var edited = at[..3] + (at[3] == '7' ? '8' : '7') + at[4..];
            receipt["record"]!["recordedAt"] = edited;
            // A forger recomputes the hash too: only the signed root can catch it.
            receipt["hash"] = ConsentService.Infrastructure.CanonicalJson.Sha256Hex(receipt["record"]!);
        });

        var (exitCode, output) = await CheckAsync(files);

        Assert.True(exitCode == 1, output);
        Assert.Contains("ok      record hash", output);
        Assert.Contains("BROKEN  batch inclusion", output);
        Assert.Contains("BROKEN  inclusion proof", output); // the checkpoint catches it as well
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
        Assert.Contains("BROKEN  batch head signature", output);
        Assert.Contains("BROKEN  tree head signature", output);
        Assert.Contains("ok      record hash", output); // the content itself is intact
    }

    [Fact]
    public async Task An_edited_audit_path_a_path_from_another_batch_or_a_swapped_leaf_is_broken()
    {
        var files = await SaveFilesAsync();
        var original = await File.ReadAllTextAsync(files.Receipt);
        var neighbour = files.Neighbour["receipt"]!;
        var other = files.OtherBatch["receipt"]!;
        var edits = new (string What, Action<JsonObject> Edit)[]
        {
            ("one path hash changed", r => r["auditPath"]![0] = (r["auditPath"]![0]!.GetValue<string>()[0] == 'a' ? "b" : "a") + r["auditPath"]![0]!.GetValue<string>()[1..]),
            ("the path and index of another batch", r => (r["auditPath"], r["leafIndex"]) = (other["auditPath"]!.DeepClone(), other["leafIndex"]!.DeepClone())),
            ("the leaf index of a neighbour", r => r["leafIndex"] = neighbour["leafIndex"]!.DeepClone()),
            ("the path of a neighbour", r => r["auditPath"] = neighbour["auditPath"]!.DeepClone()),
            ("the record of a neighbour", r => (r["record"], r["hash"]) = (neighbour["record"]!.DeepClone(), neighbour["hash"]!.DeepClone())),
            ("a path cut short", r => r["auditPath"]!.AsArray().RemoveAt(r["auditPath"]!.AsArray().Count - 1)),
        };
        foreach (var (what, edit) in edits)
        {
            await File.WriteAllTextAsync(files.Receipt, original);
            await EditReceiptAsync(files, edit);

            var (exitCode, output) = await CheckAsync(files, withProof: false);

            Assert.True(exitCode == 1, $"{what}: {output}");
            Assert.Contains("ok      batch head signature", output);
            Assert.True(output.Contains("BROKEN  batch inclusion", StringComparison.Ordinal) || output.Contains("BROKEN  batch head:", StringComparison.Ordinal),
                $"{what}: {output}");
        }
    }

    [Fact]
    public async Task A_forged_batch_head_is_broken()
    {
        var files = await SaveFilesAsync();
        var original = await File.ReadAllTextAsync(files.Receipt);
        var other = files.OtherBatch["receipt"]!;
        using var forger = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var edits = new (string What, Action<JsonObject> Edit, string Broken)[]
        {
            // A root that fits an edited record, written into the signed payload: the signature no longer holds.
            ("payload root replaced", r => r["batchHead"] = EditPayload(r["batchHead"]!.GetValue<string>(), p =>
            {
                p["rootHash"] = new string('0', 64);
                return p;
            }), "batch head signature"),
            ("payload site replaced", r => r["batchHead"] = EditPayload(r["batchHead"]!.GetValue<string>(), p =>
            {
                p["siteId"] = "site_someone_else";
                return p;
            }), "batch head signature"),
            // A head made and signed by someone else under the service's kid.
            ("signed by another key", r =>
            {
                var parts = r["batchHead"]!.GetValue<string>().Split('.');
                parts[2] = System.Buffers.Text.Base64Url.EncodeToString(forger.SignData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"),
                    System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
                r["batchHead"] = string.Join('.', parts);
            }, "batch head signature"),
            // A genuine head, of another batch.
            ("head of another batch", r => r["batchHead"] = other["batchHead"]!.DeepClone(), "batch inclusion"),
        };
        foreach (var (what, edit, broken) in edits)
        {
            await File.WriteAllTextAsync(files.Receipt, original);
            await EditReceiptAsync(files, edit);

            var (exitCode, output) = await CheckAsync(files, withProof: false);

            Assert.True(exitCode == 1, $"{what}: {output}");
            Assert.Contains($"BROKEN  {broken}", output);
        }
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
