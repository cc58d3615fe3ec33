using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ConsentService.Infrastructure;
using ConsentService.Ledger;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentService.Consents;

/// <summary>The filters of <c>GET …/consents</c> and its export, as the query string carries them.</summary>
public sealed record ConsentQuery(
    string? Purpose = null,
    bool? Granted = null,
    string? Method = null,
    int? PolicyVersion = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    string? SubjectId = null,
    string? Cursor = null,
    int? Limit = null,
    string? Format = null);

public sealed record ConsentPage(IReadOnlyList<ConsentRecordView> Items, string? NextCursor);

/// <summary>A record with everything that proves it: the policy text's hash, its chain position, a fresh receipt and its checkpoint inclusion.</summary>
public sealed record ConsentProof(ConsentRecordView Record, ProofPolicy Policy, ProofChain Chain, ConsentReceipt Receipt, InclusionProof? Checkpoint);

public sealed record ProofPolicy(int Version, string ContentHash, DateTimeOffset PublishedAt);

public sealed record ProofChain(string SubjectCommitment, long Sequence, string? PrevHash, string Hash, long Position);

/// <summary>What legal teams read: the ledger queried, exported, and one record with its proof.</summary>
public static partial class ConsentQueryEndpoints
{
    public const int MaxLimit = 1000;
    public const int DefaultLimit = 100;

    public static IEndpointRouteBuilder MapConsentQueryEndpoints(this IEndpointRouteBuilder routes)
    {
        var consents = routes.MapGroup("/v1/sites/{siteId}/consents").WithTags("Consents");

        consents.MapGet("/", Query)
            .WithName("QueryConsents")
            .WithSummary("Records in ledger order, filtered, with cursor paging (stable under concurrent writes)")
            .RequireSiteRole(SiteRole.Legal);

        consents.MapGet("/export", Export)
            .WithName("ExportConsents")
            .WithSummary("The same filters, streamed as CSV or NDJSON (format=csv|ndjson)")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .RequireSiteRole(SiteRole.Legal);

        consents.MapGet("/{recordId}", Get)
            .WithName("GetConsentRecord")
            .WithSummary("One record with its proof: policy hash, chain position, signed receipt, checkpoint inclusion proof")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable) // this instance's key is not the active one (README, Signing keys)
            .RequireSiteRole(SiteRole.Legal);

        return routes;
    }

    private static async Task<Results<Ok<ConsentPage>, ValidationProblem>> Query(
        string siteId, [AsParameters] ConsentQuery query, IConsentStore store, CancellationToken ct)
    {
        var (filter, after, errors) = Parse(query);
        var limit = query.Limit ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit) errors.Add("limit", $"From 1 to {MaxLimit}.");
        if (query.Format is not null) errors.Add("format", "Only the export takes a format.");
        if (!errors.IsEmpty) return errors.ToProblem();

        var items = new List<ConsentRecordView>(Math.Min(limit, 256));
        var more = false;
        await foreach (var record in store.QueryConsentsAsync(siteId, filter, after, ct))
        {
            if (items.Count == limit)
            {
                more = true;
                break;
            }
            items.Add(ConsentRecordView.From(record));
        }
        return TypedResults.Ok(new ConsentPage(items, more ? EncodeCursor(items[^1].Position) : null));
    }

    private static async Task<Results<PushStreamHttpResult, NdjsonFile<ConsentRecordView>, ValidationProblem>> Export(
        string siteId, [AsParameters] ConsentQuery query, IConsentStore store, PolicyCatalog policies, TimeProvider time, CancellationToken ct)
    {
        var (filter, after, errors) = Parse(query);
        if (query.Limit is not null) errors.Add("limit", "The export has no limit; it streams every matching record.");
        if (query.Format is not ("csv" or "ndjson")) errors.Add("format", "'csv' or 'ndjson'.");
        if (!errors.IsEmpty) return errors.ToProblem();

        var fileName = $"consents-{siteId}-{time.Now():yyyyMMdd'T'HHmmss'Z'}.{query.Format}";
        if (query.Format == "ndjson")
        {
            return new NdjsonFile<ConsentRecordView>(store.QueryConsentsAsync(siteId, filter, after, ct).Select(ConsentRecordView.From), fileName);
        }
        // One column per purpose any version of the policy has had, so every row lines up.
        var purposes = (await policies.ListAsync(siteId, ct)).SelectMany(p => p.Content.Purposes).Select(p => p.Id).Distinct().ToList();
        return TypedResults.Stream(async body =>
        {
            await using var writer = new StreamWriter(body, new UTF8Encoding(false), bufferSize: 16 * 1024);
            string[] header = ["id", "subjectId", "sequence", "position", "recordedAt", "policyVersion", "policyHash", "method",
                .. purposes.Select(p => "purpose:" + p), "url", "locale", "jurisdiction", "userAgent", "ipPrefix", "prevHash", "hash",
                "subjectCommitment", "sourceCommitment"];
            await writer.WriteLineAsync(Csv(header));
            await foreach (var r in store.QueryConsentsAsync(siteId, filter, after, ct))
            {
                string?[] row = [r.Id, r.SubjectId, r.Sequence.ToString(CultureInfo.InvariantCulture), r.Position.ToString(CultureInfo.InvariantCulture),
                    r.RecordedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                    r.PolicyVersion.ToString(CultureInfo.InvariantCulture), r.PolicyHash, JsonDefaults.Name(r.Method),
                    .. purposes.Select(p => r.Purposes.TryGetValue(p, out var granted) ? (granted ? "true" : "false") : ""),
                    r.Source?.Url, r.Source?.Locale, r.Source?.Jurisdiction, r.Source?.UserAgent, r.Source?.IpPrefix, r.PrevHash, r.Hash,
                    r.SubjectCommitment, r.SourceCommitment];
                await writer.WriteLineAsync(Csv(row));
            }
        }, "text/csv; charset=utf-8", fileName);
    }

    private static async Task<Results<Ok<ConsentProof>, ProblemHttpResult>> Get(
        string siteId, string recordId, IConsentStore store, PolicyCatalog policies, ProofSigner signer, ReceiptIssuer receipts, Checkpointer checkpointer,
        CancellationToken ct)
    {
        var record = await store.GetConsentAsync(siteId, recordId, ct);
        if (record is null)
        {
            return Problems.NotFound($"Record '{recordId}' was not found on site '{siteId}'.");
        }
        var policy = (await policies.GetAsync(siteId, record.PolicyVersion, ct))!;
        await signer.EnsureMaySignAsync(ct);
        return TypedResults.Ok(new ConsentProof(
            ConsentRecordView.From(record),
            new ProofPolicy(policy.Version, policy.ContentHash, policy.PublishedAt),
            new ProofChain(record.SubjectCommitment, record.Sequence, record.PrevHash, record.Hash, record.Position),
            receipts.Issue(record, batch: null), // a batch of its own, signed now
            await checkpointer.ProveAsync(record, ct)));
    }

    /// <summary>The store filter and the position to continue after; errors name each query parameter at fault.</summary>
    private static (ConsentFilter Filter, long After, ValidationErrors Errors) Parse(ConsentQuery q)
    {
        var errors = new ValidationErrors();
        if (q.Purpose is not null && !PurposeId().IsMatch(q.Purpose)) errors.Add("purpose", "A purpose id such as 'analytics'.");
        if (q.Granted is not null && q.Purpose is null) errors.Add("granted", "Filter on 'granted' together with a 'purpose'.");
        if (q.SubjectId is not null && !SubjectIds.IsValid(q.SubjectId)) errors.Add("subjectId", SubjectIds.Rule);
        if (q.PolicyVersion is < 1) errors.Add("policyVersion", "A version number from 1.");
        var method = JsonDefaults.TryParse<ConsentMethod>(q.Method);
        if (q.Method is not null && method is null)
        {
            errors.Add("method", $"One of {string.Join(", ", Enum.GetValues<ConsentMethod>().Select(m => JsonDefaults.Name(m)))}.");
        }
        if (q.From is { } from && q.To is { } to && from >= to) errors.Add("to", "Must be later than 'from'.");
        var after = q.Cursor is null ? 0 : DecodeCursor(q.Cursor) ?? -1;
        if (after < 0) errors.Add("cursor", "Not a cursor this API returned.");
        return (new ConsentFilter(q.SubjectId, q.Purpose, q.Granted, method, q.PolicyVersion, q.From, q.To), after, errors);
    }

    // A cursor is the last ledger position returned: positions only grow in commit order, so paging
    // never skips or repeats a record however many are written meanwhile.
    private static string EncodeCursor(long position) => Secrets.Base64Url(Encoding.ASCII.GetBytes($"p{position}"));

    private static long? DecodeCursor(string cursor)
    {
        try
        {
            var text = Encoding.ASCII.GetString(Secrets.FromBase64Url(cursor));
            return text.StartsWith('p') && long.TryParse(text.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p > 0 ? p : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>RFC 4180 quoting, and a leading quote on cells a spreadsheet would run as a formula (OWASP CSV injection).</summary>
    private static string Csv(IEnumerable<string?> cells) => string.Join(',', cells.Select(cell =>
    {
        var value = cell ?? "";
        if (value.Length > 0 && "=+-@\t\r".Contains(value[0], StringComparison.Ordinal)) value = "'" + value;
        return value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
    }));

    [GeneratedRegex(PolicyRules.PurposeIdPattern)]
    private static partial Regex PurposeId();
}
