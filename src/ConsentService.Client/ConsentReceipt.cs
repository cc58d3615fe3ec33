using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConsentService.Client;

/// <summary>
/// A consent receipt as the service issues it (the <c>receipt</c> member of a recorded decision):
/// <code>
/// { "record":    { id, siteId, subjectCommitment, sequence, position, policyVersion, policyHash,
///                  purposes: { analytics: true, … }, method, sourceCommitment, recordedAt, prevHash },
///   "hash":      SHA-256 hex of the record's canonical JSON,
///   "leafIndex": the record's leaf in its commit batch's Merkle tree,
///   "auditPath": [ hex sibling hashes, leaf to root ],
///   "batchHead": compact JWS (ES256, typ consent-batch-head) over
///                { siteId, kid, treeSize, rootHash, firstPosition, timestamp } }
/// </code>
/// </summary>
public sealed record ConsentReceipt(JsonObject Record, string Hash, long LeafIndex, IReadOnlyList<string> AuditPath, string BatchHead)
{
    /// <summary>
    /// Reads a receipt from its JSON (as <c>ConsentService.receipt()</c> gives it), from that JSON base64url-encoded (a cookie),
    /// or from an answer that holds it as its <c>receipt</c> member. Null when the text is none of those.
    /// </summary>
    public static ConsentReceipt? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 64 * 1024) return null;
        try
        {
            var json = text.TrimStart().StartsWith('{') ? text : Encoding.UTF8.GetString(Base64Url.DecodeFromChars(text.Trim()));
            var node = JsonNode.Parse(json) as JsonObject;
            if (node?["receipt"] is JsonObject inner) node = inner;
            if (node is null
                || node["record"] is not JsonObject record
                || node["hash"] is not JsonValue hash || hash.GetValueKind() != JsonValueKind.String
                || node["leafIndex"] is not JsonValue index || index.GetValueKind() != JsonValueKind.Number
                || node["auditPath"] is not JsonArray path || path.Any(p => p is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
                || node["batchHead"] is not JsonValue head || head.GetValueKind() != JsonValueKind.String)
            {
                return null;
            }
            return new ConsentReceipt((JsonObject)record.DeepClone(), hash.GetValue<string>(), index.GetValue<long>(),
                [.. path.Select(p => p!.GetValue<string>())], head.GetValue<string>());
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }
}

/// <summary>What a verified receipt shows: a decision recorded on <see cref="SiteId"/> at <see cref="RecordedAt"/>, signed by key <see cref="Kid"/>.</summary>
public sealed record VerifiedReceipt(
    string SiteId,
    string RecordId,
    long Position,
    int PolicyVersion,
    string PolicyHash,
    string Method,
    IReadOnlyDictionary<string, bool> Purposes,
    DateTimeOffset RecordedAt,
    string Kid,
    DateTimeOffset SignedAt)
{
    public bool Grants(string purpose) => Purposes.TryGetValue(purpose, out var granted) && granted;
}

/// <summary>The outcome of <see cref="ReceiptVerifier.VerifyAsync"/>: the receipt when it holds, else why not.</summary>
public sealed record ReceiptVerification(VerifiedReceipt? Receipt, string? Failure)
{
    public bool IsValid => Receipt is not null;

    internal static ReceiptVerification Fail(string why) => new(null, why);
}
