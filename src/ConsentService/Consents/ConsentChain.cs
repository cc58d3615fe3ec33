using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;

namespace ConsentService.Consents;

/// <summary>
/// The per-subject hash chain (DESIGN §5). The hashed form carries HMAC commitments under the
/// subject's own key instead of the subject id and source, so erasing the key unlinks the records
/// from the person while every hash still verifies.
/// </summary>
public static class ConsentChain
{
    public static string Commit(byte[] subjectKey, string value) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(subjectKey, Encoding.UTF8.GetBytes(value)));

    public static string? CommitSource(byte[] subjectKey, ConsentSource? source) => CommitSourceForm(subjectKey, SourceForm(source));

    /// <summary>The canonical JSON a source's commitment is the HMAC of: it needs no key, so an append makes it before the single writer runs.</summary>
    public static string? SourceForm(ConsentSource? source) =>
        source is null ? null : CanonicalJson.Serialize(JsonSerializer.SerializeToNode(source, JsonDefaults.Options));

    public static string? CommitSourceForm(byte[] subjectKey, string? sourceForm) => sourceForm is null ? null : Commit(subjectKey, sourceForm);

    /// <summary>The exact JSON object whose canonical form is hashed.</summary>
    public static JsonObject HashedForm(ConsentRecord record)
    {
        var purposes = new JsonObject();
        foreach (var (id, granted) in record.Purposes)
        {
            purposes[id] = granted;
        }
        return new JsonObject
        {
            ["id"] = record.Id,
            ["siteId"] = record.SiteId,
            ["subjectCommitment"] = record.SubjectCommitment,
            ["sequence"] = record.Sequence,
            ["position"] = record.Position,
            ["policyVersion"] = record.PolicyVersion,
            ["policyHash"] = record.PolicyHash,
            ["purposes"] = purposes,
            ["method"] = JsonDefaults.Name(record.Method),
            ["sourceCommitment"] = record.SourceCommitment,
            ["recordedAt"] = record.RecordedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["prevHash"] = record.PrevHash,
        };
    }

    public static string Hash(ConsentRecord record) => CanonicalJson.Sha256Hex(HashedForm(record));
}
