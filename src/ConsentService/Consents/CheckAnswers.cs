using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using ConsentService.Policies;
using ConsentService.Sites;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace ConsentService.Consents;

/// <summary>
/// A check's answer as the UTF-8 JSON bytes it is sent as, kept beside the cached record it was made
/// from: the per-page-view path then neither evaluates nor serialises again. An answer is reused only
/// for the very objects it was made from (the record, site and policy list the read cache holds, which
/// a write replaces by new objects) and only until the first moment its time-dependent parts could
/// change (the consent reaching the site's maximum age, a refusal reaching the re-ask interval).
/// </summary>
public sealed class CheckAnswers(IOptions<HttpJsonOptions> json)
{
    private sealed record Answer(Site Site, IReadOnlyList<Policy> Policies, DateTimeOffset ValidUntil, byte[] Body);

    /// <summary>Per record, per purpose asked ("" for the whole state); dies with the record object.</summary>
    private readonly ConditionalWeakTable<ConsentRecord, ConcurrentDictionary<string, Answer>> _answers = new();

    private readonly JsonSerializerOptions _options = json.Value.SerializerOptions;

    /// <summary>The bytes of an answer made from these same objects and still true at <paramref name="now"/>, or null.</summary>
    public byte[]? Find(ConsentRecord? current, Site site, IReadOnlyList<Policy> policies, string? purpose, DateTimeOffset now) =>
        current is not null && _answers.TryGetValue(current, out var byPurpose) && byPurpose.TryGetValue(purpose ?? "", out var answer)
        && ReferenceEquals(answer.Site, site) && ReferenceEquals(answer.Policies, policies) && now <= answer.ValidUntil
            ? answer.Body
            : null;

    /// <summary>Serialises <paramref name="value"/> as the HTTP JSON settings would, and keeps the bytes when there is a record to keep them by.</summary>
    public byte[] Keep<T>(ConsentRecord? current, Site site, IReadOnlyList<Policy> policies, string? purpose, DateTimeOffset now, T value)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(value, _options);
        if (current is not null)
        {
            _answers.GetOrCreateValue(current)[purpose ?? ""] = new Answer(site, policies, ValidUntil(current, site, now), body);
        }
        return body;
    }

    /// <summary>
    /// The last moment <see cref="ConsentLedger.Evaluate"/> gives the same answer: each "older than"
    /// test not yet true at <paramref name="now"/> stays false until its threshold; one already true stays true.
    /// </summary>
    private static DateTimeOffset ValidUntil(ConsentRecord current, Site site, DateTimeOffset now)
    {
        var until = DateTimeOffset.MaxValue;
        var thresholds = current.Purposes.Values.Contains(false)
            ? new[] { current.RecordedAt + TimeSpan.FromDays(site.ConsentMaxAgeDays), current.RecordedAt + TimeSpan.FromDays(site.RefusalReaskDays) }
            : [current.RecordedAt + TimeSpan.FromDays(site.ConsentMaxAgeDays)];
        foreach (var threshold in thresholds)
        {
            if (threshold >= now && threshold < until)
            {
                until = threshold;
            }
        }
        return until;
    }
}

/// <summary>An answer already serialised: 200, application/json, sent as is.</summary>
public sealed class Utf8JsonResult(byte[] body) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        return response.BodyWriter.WriteAsync(body).AsTask();
    }
}
