using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentService.Infrastructure;
using ConsentService.Storage;

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

    /// <summary>
    /// A record made before the store's single writer runs, but for what only the writer knows: the chain
    /// head (sequence, position, prevHash) and, for a subject that already has a key, the commitments under
    /// it. The hashed form is canonicalised here, in pieces around those members, so that the writer, which
    /// every other write waits for, only puts them in and hashes (<see cref="Seal"/>) instead of building and
    /// sorting the whole form. Same bytes as <see cref="Hash"/>: a test holds the two equal.
    /// </summary>
    public sealed class Draft
    {
        /// <summary>The members the writer fills in, in canonical (sorted) order.</summary>
        private static readonly string[] Late = ["position", "prevHash", "sequence", "sourceCommitment", "subjectCommitment"];

        private readonly ConsentRecord _record;
        private readonly byte[] _key;
        private readonly string? _sourceForm;
        private readonly string[] _pieces = new string[Late.Length + 1];

        /// <param name="record">Every member but the chain's (ignored): made with <paramref name="newSubjectKey"/>'s commitments.</param>
        /// <param name="newSubjectKey">The key the store gives the subject if it has none yet (then the commitments made here stand).</param>
        public Draft(ConsentRecord record, byte[] newSubjectKey)
        {
            _key = newSubjectKey;
            _sourceForm = SourceForm(record.Source);
            _record = record with { SubjectCommitment = Commit(newSubjectKey, record.SubjectId!), SourceCommitment = CommitSourceForm(newSubjectKey, _sourceForm) };
            var builder = new StringBuilder(512).Append('{');
            var (piece, first) = (0, true);
            foreach (var (name, value) in HashedForm(_record).OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                if (!first) builder.Append(',');
                first = false;
                CanonicalJson.WriteString(builder, name);
                builder.Append(':');
                if (Array.IndexOf(Late, name) is var late and >= 0)
                {
                    if (late != piece) throw new InvalidOperationException($"'{name}' out of order in the hashed form.");
                    _pieces[piece++] = builder.ToString();
                    builder.Clear();
                }
                else
                {
                    CanonicalJson.Write(builder, value);
                }
            }
            if (piece != Late.Length) throw new InvalidOperationException("The hashed form lacks a member the writer fills in.");
            _pieces[piece] = builder.Append('}').ToString();
        }

        /// <summary>The record on <paramref name="head"/>, hashed: what the single writer runs.</summary>
        public ConsentRecord Seal(ChainHead head)
        {
            var sealedRecord = head.SubjectKey.AsSpan().SequenceEqual(_key)
                ? _record
                : _record with { SubjectCommitment = Commit(head.SubjectKey, _record.SubjectId!), SourceCommitment = CommitSourceForm(head.SubjectKey, _sourceForm) };
            sealedRecord = sealedRecord with { Sequence = head.Sequence + 1, Position = head.Position, PrevHash = head.Hash };
            var form = new StringBuilder(_pieces.Sum(p => p.Length) + 192)
                .Append(_pieces[0]).Append(sealedRecord.Position.ToString(CultureInfo.InvariantCulture));
            StringOrNull(form.Append(_pieces[1]), sealedRecord.PrevHash);
            form.Append(_pieces[2]).Append(sealedRecord.Sequence.ToString(CultureInfo.InvariantCulture));
            StringOrNull(form.Append(_pieces[3]), sealedRecord.SourceCommitment);
            StringOrNull(form.Append(_pieces[4]), sealedRecord.SubjectCommitment);
            form.Append(_pieces[5]);
            return sealedRecord with { Hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(form.ToString()))) };
        }

        private static void StringOrNull(StringBuilder builder, string? value)
        {
            if (value is null) builder.Append("null");
            else CanonicalJson.WriteString(builder, value);
        }
    }
}
