using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;
using ConsentService.Ledger;

namespace ConsentService.Client;

/// <summary>
/// Verifies a consent receipt offline, with the service's cached JWK set only: the batch head's ES256 signature with
/// the key its <c>kid</c> names, the record's hash recomputed from the record itself, the record's leaf climbed up
/// its audit path to the signed root, and the head's binding (same site and kid, position = first position + leaf
/// index). No call to the service, apart from the JWK set's fetches (<see cref="SigningKeyCache"/>).
/// </summary>
public sealed class ReceiptVerifier(SigningKeyCache keys)
{
    public const string BatchHeadType = "consent-batch-head";

    public async Task<ReceiptVerification> VerifyAsync(ConsentReceipt receipt, CancellationToken ct = default)
    {
        var parts = receipt.BatchHead.Split('.');
        if (parts.Length != 3) return ReceiptVerification.Fail("The batch head is not a compact JWS.");
        JsonObject header, head;
        try
        {
            header = JsonNode.Parse(Base64Url.DecodeFromChars(parts[0])) as JsonObject ?? throw new FormatException();
            head = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1])) as JsonObject ?? throw new FormatException();
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return ReceiptVerification.Fail("The batch head is not base64url JSON.");
        }
        if (Text(header, "alg") != "ES256" || Text(header, "typ") != BatchHeadType || Text(header, "kid") is not { } kid)
        {
            return ReceiptVerification.Fail($"The batch head is not an ES256 {BatchHeadType} with a kid.");
        }
        var key = await keys.FindAsync(kid, ct);
        if (key is null) return ReceiptVerification.Fail($"The service publishes no key {kid}.");
        byte[] signature;
        try
        {
            signature = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (FormatException)
        {
            return ReceiptVerification.Fail("The batch head's signature is not base64url.");
        }
        if (!SigningKeyCache.Verifies(key, Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), signature))
        {
            return ReceiptVerification.Fail($"The batch head's signature does not verify with key {kid}.");
        }

        try
        {
            var record = receipt.Record;
            var hash = CanonicalJson.Sha256Hex(record);
            if (hash != receipt.Hash) return ReceiptVerification.Fail("The record does not hash to the receipt's hash.");
            var treeSize = head["treeSize"]!.GetValue<long>();
            if (!MerkleTree.VerifyInclusion(receipt.LeafIndex, treeSize, MerkleTree.LeafHash(Convert.FromHexString(hash)),
                [.. receipt.AuditPath.Select(Convert.FromHexString)], Convert.FromHexString(Text(head, "rootHash") ?? "")))
            {
                return ReceiptVerification.Fail("The record's audit path does not lead to the signed batch root.");
            }
            var siteId = record["siteId"]!.GetValue<string>();
            var position = record["position"]!.GetValue<long>();
            if (Text(head, "siteId") != siteId || Text(head, "kid") != kid || head["firstPosition"]!.GetValue<long>() + receipt.LeafIndex != position)
            {
                return ReceiptVerification.Fail("The batch head does not name the record's site, key and position.");
            }
            var signedAt = DateTimeOffset.Parse(Text(head, "timestamp")!, CultureInfo.InvariantCulture, DateTimeStyles.None);
            if (key.CompromisedAt is { } compromised && signedAt >= compromised)
            {
                return ReceiptVerification.Fail($"Key {kid} is marked compromised from {compromised:O}; this head was signed after.");
            }
            var purposes = new Dictionary<string, bool>(StringComparer.Ordinal);
            foreach (var (purpose, granted) in record["purposes"]!.AsObject())
            {
                purposes[purpose] = granted!.GetValue<bool>();
            }
            return new ReceiptVerification(new VerifiedReceipt(
                siteId,
                record["id"]!.GetValue<string>(),
                position,
                record["policyVersion"]!.GetValue<int>(),
                record["policyHash"]!.GetValue<string>(),
                record["method"]!.GetValue<string>(),
                purposes,
                DateTimeOffset.Parse(record["recordedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.None),
                kid,
                signedAt), null);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or NullReferenceException or ArgumentException
            or NotSupportedException) // a number that is not an integer: not a record the service hashed
        {
            return ReceiptVerification.Fail("The receipt's record or batch head is missing a member or holds a wrong type.");
        }
    }

    private static string? Text(JsonObject node, string name) =>
        node[name] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
