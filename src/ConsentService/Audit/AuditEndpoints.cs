using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ConsentService.Infrastructure;
using ConsentService.Sites;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ConsentService.Audit;

/// <summary>
/// Reading the audit log (admin only), and deleting one request's events by its request id, which leaves
/// tombstones. There is deliberately no way to write or change an event through the API: other methods
/// on these paths answer 405.
/// </summary>
public static partial class AuditEndpoints
{
    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder routes)
    {
        var audit = routes.MapGroup("/v1/sites/{siteId}/audit").WithTags("Audit").RequireSiteRole(SiteRole.Admin);

        audit.MapGet("/logs", List)
            .WithName("GetAuditLogs")
            .WithSummary("Audit events of the site, newest first, filtered, with cursor paging")
            .AddOpenApiOperationTransformer(DescribeParameters);

        audit.MapGet("/logs/export", Export)
            .WithName("ExportAuditLogs")
            .WithSummary("Every audit event matching the filters, newest first, as NDJSON (one JSON object per line)")
            .AddOpenApiOperationTransformer(DescribeParameters);

        audit.MapDelete("/logs/{requestId}", Delete)
            .WithName("DeleteAuditEvent")
            .WithSummary("Deletes the events of one request: each becomes a tombstone (id, time, request id and who deleted it when are kept)");

        return routes;
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Delete(
        string siteId, string requestId, HttpContext http, IAuditStore store, TimeProvider time, CancellationToken ct)
    {
        if (!RequestIdText().IsMatch(requestId))
        {
            return Problems.Validation("requestId", "A request id as problem responses and audit events quote it: letters, digits, ':', '.', '_' and '-', at most 200.");
        }
        var key = http.Features.Get<AuthenticatedKey>()!;
        return await store.TombstoneAsync(siteId, requestId, new AuditDeletion(time.Now(), key.KeyId, key.Role), ct)
            ? TypedResults.NoContent()
            : Problems.NotFound($"The site's audit log has no event of request '{requestId}'.");
    }

    [GeneratedRegex("^[A-Za-z0-9:._-]{1,200}\\z")]
    private static partial Regex RequestIdText();

    private static async Task<Results<Ok<AuditLogPage>, ValidationProblem>> List(
        string siteId, [AsParameters] AuditLogQuery query, IAuditStore store, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var filter = AuditQueryParser.Filter(query.ToFilterQuery(), errors);
        var (after, limit) = AuditQueryParser.Paging(query.Cursor, query.Limit, errors);
        if (!errors.IsEmpty) return errors.ToProblem();

        var page = await store.QueryAsync(siteId, filter, after, limit, ct);
        return TypedResults.Ok(new AuditLogPage(page.Items, page.Next?.Encode()));
    }

    private static Results<NdjsonFile<AuditEvent>, ValidationProblem> Export(
        string siteId, [AsParameters] AuditFilterQuery query, IAuditStore store, TimeProvider time, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var filter = AuditQueryParser.Filter(query, errors);
        if (!errors.IsEmpty) return errors.ToProblem();

        var fileName = $"audit-{siteId}-{time.Now().ToString("yyyyMMdd", CultureInfo.InvariantCulture)}.ndjson";
        return new NdjsonFile<AuditEvent>(store.ExportAsync(siteId, filter, ct), fileName);
    }

    /// <summary>The parameters travel as text (so a bad one is a 400 naming it); the document still says what each one takes.</summary>
    private static Task DescribeParameters(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
        {
            (parameter.Description, parameter.Schema) = parameter.Name switch
            {
                "action" => ("Endpoint name, e.g. IssueApiKey or GetSubjectHistory.", parameter.Schema),
                "keyId" => ("Events of this API key (key_…).", parameter.Schema),
                "outcome" => ("HTTP status answered.",
                    new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "100", Maximum = "599" }),
                "from" => ("ISO-8601 time, inclusive, e.g. 2026-11-25T09:00:00Z; a date alone is midnight UTC.",
                    new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" }),
                "to" => ("ISO-8601 time, exclusive.", new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" }),
                "cursor" => ("The nextCursor of the previous page, unchanged.", parameter.Schema),
                "limit" => ("Events per page.", new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1",
                    Maximum = AuditQueryParser.MaxLimit.ToString(CultureInfo.InvariantCulture),
                    Default = JsonValue.Create(AuditQueryParser.DefaultLimit),
                }),
                _ => (parameter.Description, parameter.Schema),
            };
        }
        return Task.CompletedTask;
    }
}

/// <summary>Parses the audit query string; every fault is added to the errors under its parameter's name.</summary>
public static partial class AuditQueryParser
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static AuditFilter Filter(AuditFilterQuery query, ValidationErrors errors)
    {
        var action = Matching(query.Action, "action", ActionName(), "An endpoint name such as 'IssueApiKey': letters and digits, at most 100.", errors);
        var keyId = Matching(query.KeyId, "keyId", KeyIdText(), "A key id such as 'key_…': letters, digits, '_' and '-', at most 100.", errors);
        var outcome = Integer(query.Outcome, "outcome", 100, 599, errors);
        var from = Time(query.From, "from", errors);
        var to = Time(query.To, "to", errors);
        if (from is not null && to is not null && to <= from)
        {
            errors.Add("to", "Must be later than 'from' (from is inclusive, to exclusive).");
        }
        return new AuditFilter(action, keyId, outcome, from, to);
    }

    public static (AuditPosition? After, int Limit) Paging(string? cursor, string? limit, ValidationErrors errors)
    {
        AuditPosition? after = null;
        if (cursor is not null && (after = AuditPosition.Decode(cursor)) is null)
        {
            errors.Add("cursor", "Not a cursor this API gave out: pass a page's nextCursor unchanged.");
        }
        return (after, Integer(limit, "limit", 1, MaxLimit, errors) ?? DefaultLimit);
    }

    private static string? Matching(string? value, string field, Regex pattern, string rule, ValidationErrors errors)
    {
        if (value is null) return null;
        if (pattern.IsMatch(value)) return value;
        errors.Add(field, rule);
        return null;
    }

    private static int? Integer(string? value, string field, int min, int max, ValidationErrors errors)
    {
        if (value is null) return null;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max)
        {
            return number;
        }
        errors.Add(field, $"A whole number from {min} to {max}.");
        return null;
    }

    /// <summary>ISO-8601: a date (midnight UTC) or a date and time, with <c>Z</c> or an offset (none means UTC).</summary>
    private static DateTimeOffset? Time(string? value, string field, ValidationErrors errors)
    {
        if (value is null) return null;
        if (IsoTime().IsMatch(value)
            && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at;
        }
        errors.Add(field, "An ISO-8601 time such as '2026-11-25T09:00:00Z' or a date such as '2026-11-25'.");
        return null;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{0,99}\\z")]
    private static partial Regex ActionName();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,100}\\z")]
    private static partial Regex KeyIdText();

    [GeneratedRegex("^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,7})?)?(Z|[+-]\\d{2}:\\d{2})?)?\\z")]
    private static partial Regex IsoTime();
}
