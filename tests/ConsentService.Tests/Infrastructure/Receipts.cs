using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;
using ConsentService.Ledger;

namespace ConsentService.Tests.Infrastructure;

/// <summary>A receipt checked as a stranger would: the published JWK set, the receipt, nothing else.</summary>
public static class Receipts
{
    /// <summary>
    /// Asserts the batch head's ES256 signature with the key its kid names, the record's hash, the audit path from its
    /// leaf to the signed root, and the head's binding (site, kid, position); returns the head's payload.
    /// </summary>
    public static JsonObject AssertVerifies(JsonNode receipt, JsonArray keySet, string? expectedKid = null)
    {
        var head = receipt["batchHead"]!.GetValue<string>();
        var parts = head.Split('.');
        var header = JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[0]))!;
        Assert.Equal(("ES256", ReceiptIssuer.HeadType), (header["alg"]!.GetValue<string>(), header["typ"]!.GetValue<string>()));
        var kid = header["kid"]!.GetValue<string>();
        if (expectedKid is not null) Assert.Equal(expectedKid, kid);
        var jwk = Assert.Single(keySet, k => k!["kid"]!.GetValue<string>() == kid)!;
        using var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint
            {
                X = System.Buffers.Text.Base64Url.DecodeFromChars(jwk["x"]!.GetValue<string>()),
                Y = System.Buffers.Text.Base64Url.DecodeFromChars(jwk["y"]!.GetValue<string>()),
            },
        });
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation), $"The batch head does not verify with published key {kid}");
        var payload = JsonNode.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]))!.AsObject();

        var record = receipt["record"]!.AsObject();
        var hash = CanonicalJson.Sha256Hex(record);
        Assert.Equal(receipt["hash"]!.GetValue<string>(), hash);
        var index = receipt["leafIndex"]!.GetValue<long>();
        var size = payload["treeSize"]!.GetValue<long>();
        var path = receipt["auditPath"]!.AsArray().Select(p => Convert.FromHexString(p!.GetValue<string>())).ToList();
        Assert.True(MerkleTree.VerifyInclusion(index, size, MerkleTree.LeafHash(Convert.FromHexString(hash)), path,
            Convert.FromHexString(payload["rootHash"]!.GetValue<string>())), "The audit path does not lead to the signed root");
        Assert.Equal(record["siteId"]!.GetValue<string>(), payload["siteId"]!.GetValue<string>());
        Assert.Equal(kid, payload["kid"]!.GetValue<string>());
        Assert.Equal(record["position"]!.GetValue<long>(), payload["firstPosition"]!.GetValue<long>() + index);
        return payload;
    }
}
