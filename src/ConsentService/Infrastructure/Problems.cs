using ConsentService.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ConsentService.Infrastructure;

/// <summary>Stable problem type URIs (RFC 9457 §3.1.1): clients branch on these, never on titles.</summary>
public static class ProblemTypes
{
    private const string Prefix = "urn:consentservice:problem:";
    public const string Validation = Prefix + "validation";
    public const string InvalidBody = Prefix + "invalid-body";
    public const string Unauthorized = Prefix + "unauthorized";
    public const string Forbidden = Prefix + "forbidden";
    public const string NotFound = Prefix + "not-found";
    public const string MethodNotAllowed = Prefix + "method-not-allowed";
    public const string PayloadTooLarge = Prefix + "payload-too-large";
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    public const string IdempotencyConflict = Prefix + "idempotency-conflict";
    public const string RateLimited = Prefix + "rate-limited";
    public const string SubjectSecret = Prefix + "subject-secret";
    public const string StorageUnavailable = Prefix + "storage-unavailable";
    public const string Internal = Prefix + "internal";
    public const string SigningKeyNotActive = Prefix + "signing-key-not-active";
    /// <summary>A cookie-authenticated change without the session's CSRF token, or from another origin.</summary>
    public const string Csrf = Prefix + "csrf";
    public const string ScanNotReady = Prefix + "scan-not-ready";

    public static string ForStatus(int status) => status switch
    {
        StatusCodes.Status400BadRequest => InvalidBody,
        StatusCodes.Status401Unauthorized => Unauthorized,
        StatusCodes.Status403Forbidden => Forbidden,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed,
        StatusCodes.Status413PayloadTooLarge => PayloadTooLarge,
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests => RateLimited,
        _ when status >= 500 => Internal,
        _ => "about:blank",
    };
}

/// <summary>Factories for the problem results endpoints return.</summary>
public static class Problems
{
    public static ValidationProblem Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request is invalid.", type: ProblemTypes.Validation);

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found.", type: ProblemTypes.NotFound);

    /// <summary>Also the answer to a key of another site: for it, this site does not exist.</summary>
    public static ProblemHttpResult SiteNotFound(string siteId) => NotFound($"Site '{siteId}' was not found.");

    /// <summary>From the declared length (middleware) or the bytes counted while reading (hand-read bodies).</summary>
    public static ProblemHttpResult PayloadTooLarge(long maxBytes) =>
        Status(StatusCodes.Status413PayloadTooLarge, ProblemTypes.PayloadTooLarge,
            "The request body is too large.", $"This endpoint takes at most {maxBytes} bytes.");

    public static ProblemHttpResult Unauthorized(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status401Unauthorized, title: "Authentication required.", type: ProblemTypes.Unauthorized);

    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden.", type: ProblemTypes.Forbidden);

    /// <summary>An anonymous write without the subject's write secret, or with another: one answer for both.</summary>
    public static ProblemHttpResult SubjectSecretRefused() =>
        Status(StatusCodes.Status403Forbidden, ProblemTypes.SubjectSecret, "The subject's write secret is required.", Consents.SubjectSecrets.Refusal);

    public static ProblemHttpResult Csrf(string detail) =>
        Status(StatusCodes.Status403Forbidden, ProblemTypes.Csrf, "Cross-site request refused.", detail);

    public static ProblemHttpResult Status(int status, string type, string title, string detail) =>
        TypedResults.Problem(detail, statusCode: status, title: title, type: type);
}

/// <summary>Collects field errors so one response lists every fault of a request.</summary>
public sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsEmpty => _errors.Count == 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }
        list.Add(message);
    }

    public ValidationProblem ToProblem() =>
        Problems.Validation(_errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal));
}

/// <summary>
/// Turns framework exceptions caused by the client (malformed JSON, wrong types, oversized bodies)
/// into problem details that name the field; everything else is a 500 without internals.
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } => InvalidBody(json),
            JsonException json => InvalidBody(json),
            // "Implicit body inferred for parameter … but no body was provided": the framework's words for an empty body.
            BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } bad when bad.Message.Contains("no body was provided", StringComparison.Ordinal)
                => InvalidBody("$", "A JSON body is required."),
            // A route or query value of the wrong type: 'Failed to bind parameter "int? limit" from "abc".'
            BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } bad when BindFailure().Match(bad.Message) is { Success: true } m
                => new HttpValidationProblemDetails(new Dictionary<string, string[]>
                {
                    [System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(m.Groups["name"].Value)] = [$"'{m.Groups["value"].Value}' is not a valid {FriendlyType(m.Groups["type"].Value)}."],
                })
                {
                    Status = StatusCodes.Status400BadRequest,
                    Type = ProblemTypes.Validation,
                    Title = "One or more validation errors occurred.",
                },
            // The message names the active kid and this instance's kid (public thumbprints), nothing secret.
            Ledger.SigningRefusedException refused => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.SigningKeyNotActive,
                Title = "This instance may not sign receipts now.",
                Detail = refused.Message,
            },
            // Not the client's mistake, and it may pass (the disk freed, the lock released): 503, try again later.
            StorageUnavailableException => StorageUnavailable(httpContext, exception),
            BadHttpRequestException bad => new ProblemDetails
            {
                Status = bad.StatusCode,
                Type = ProblemTypes.ForStatus(bad.StatusCode),
                Title = "The request could not be read.",
                Detail = bad.Message,
            },
            _ => null,
        };
        if (problem is null)
        {
            logger.LogError(exception, "Unhandled exception for {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Type = ProblemTypes.Internal,
                Title = "An unexpected error occurred.",
            };
        }
        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new() { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>Seconds a client should wait before retrying a write the storage refused.</summary>
    public const int StorageRetryAfterSeconds = 30;

    private ProblemDetails StorageUnavailable(HttpContext httpContext, Exception exception)
    {
        logger.LogError(exception, "The storage refused a write for {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
        httpContext.Response.Headers.RetryAfter = StorageRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Type = ProblemTypes.StorageUnavailable,
            Title = "The service cannot store anything right now.",
            Detail = $"Its storage refused the write; nothing was recorded. Try again in {StorageRetryAfterSeconds} seconds.",
        };
    }

    public static HttpValidationProblemDetails InvalidBody(JsonException json)
    {
        var at = JsonField(json.Path);
        var message = json.Message;
        // The parser names .NET types in these two messages; clients need the JSON field instead.
        if (message.Contains("was missing required properties", StringComparison.Ordinal))
        {
            var missing = QuotedNames().Matches(message[message.IndexOf("including:", StringComparison.Ordinal)..]).Select(m => m.Groups[1].Value);
            return InvalidBody(missing.ToDictionary(name => Child(at, name), _ => Required));
        }
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal) && QuotedNames().Match(message) is { Success: true } unknown)
        {
            var field = at.EndsWith(unknown.Groups[1].Value, StringComparison.Ordinal) ? at : Child(at, unknown.Groups[1].Value);
            return InvalidBody(field, "Unknown property.");
        }
        return InvalidBody(at, JsonMessage(json));
    }

    public static HttpValidationProblemDetails InvalidBody(string field, string message) =>
        InvalidBody(new Dictionary<string, string[]> { [field] = [message] });

    private static HttpValidationProblemDetails InvalidBody(IDictionary<string, string[]> errors) =>
        new(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Type = ProblemTypes.InvalidBody,
            Title = "The request body is not valid JSON for this endpoint.",
        };

    private static readonly string[] Required = ["Required."];

    private static string Child(string parent, string name) => parent == "$" ? name : $"{parent}.{name}";

    [GeneratedRegex("'([^']+)'")]
    private static partial Regex QuotedNames();

    /// <summary>"$.purposes[0].id" → "purposes[0].id"; the root is "$".</summary>
    private static string JsonField(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? "$" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;

    /// <summary>The parser's message without its "Path: … LineNumber: …" tail (the field is reported apart).</summary>
    private static string JsonMessage(JsonException json)
    {
        var message = json.InnerException?.Message ?? json.Message;
        if (message.Contains("could not be converted to", StringComparison.Ordinal))
        {
            // The parser names .NET types here; a client needs to know the value is wrong, not our class names.
            return "The value has the wrong type or is not one of the allowed values.";
        }
        var end = message.IndexOf(" Path:", StringComparison.Ordinal);
        return end > 0 ? message[..end] : message;
    }

    /// <summary>"Nullable&lt;Int32&gt;" or "int?" → "int"; "DateTimeOffset?" → "date and time (ISO 8601)".</summary>
    private static string FriendlyType(string type)
    {
        var bare = type.Replace("Nullable<", "", StringComparison.Ordinal).TrimEnd('>', '?');
        return bare switch
        {
            "int" or "Int32" or "long" or "Int64" => "integer",
            "bool" or "Boolean" => "boolean (true or false)",
            "DateTimeOffset" or "DateTime" => "date and time (ISO 8601)",
            _ => "value",
        };
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Failed to bind parameter \"(?<type>[^\"]*) (?<name>\\w+)\" from \"(?<value>[^\"]*)\"")]
    private static partial System.Text.RegularExpressions.Regex BindFailure();
}
