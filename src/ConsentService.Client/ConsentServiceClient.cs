using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ConsentService.Client;

/// <summary>A decision to record (<c>POST /v1/sites/{siteId}/consents</c>); a back end with an admin key writes its own user ids with method <c>api</c>.</summary>
public sealed record RecordConsentRequest(
    string? SubjectId,
    int PolicyVersion,
    string Method,
    IReadOnlyDictionary<string, bool>? Purposes = null,
    string? SubjectSecret = null);

/// <summary>The record the service wrote, with its signed receipt.</summary>
public sealed record RecordedConsent(
    string Id,
    string? SubjectId,
    long Sequence,
    long Position,
    DateTimeOffset RecordedAt,
    int PolicyVersion,
    string PolicyHash,
    IReadOnlyDictionary<string, bool> Purposes,
    string Method,
    string Hash,
    JsonObject? Receipt,
    string? SubjectSecret)
{
    /// <summary>The receipt, ready for <see cref="ReceiptVerifier.VerifyAsync"/>.</summary>
    public ConsentReceipt? ParsedReceipt => Receipt is null ? null : ConsentReceipt.Parse(Receipt.ToJsonString());
}

public sealed record PurposeState(bool Granted, DateTimeOffset? RecordedAt);

/// <summary>A subject's state against the site's latest policy (<c>GET …/subjects/{id}/consent</c>).</summary>
public sealed record ConsentState(
    string SubjectId,
    int? PolicyVersion,
    int CurrentPolicyVersion,
    bool NeedsReconsent,
    string? Method,
    DateTimeOffset? RecordedAt,
    IReadOnlyDictionary<string, PurposeState> Purposes);

public sealed record PurposeCheck(string Purpose, bool Granted, bool NeedsReconsent);

public sealed record HistoryRecord(string Id, long Sequence, long Position, DateTimeOffset RecordedAt, int PolicyVersion, string Method,
    IReadOnlyDictionary<string, bool> Purposes, string Hash);

public sealed record SubjectHistory(string SubjectId, IReadOnlyList<HistoryRecord> Records);

/// <summary>An answer other than success: the service's RFC 9457 problem, as sent.</summary>
public sealed class ConsentServiceException(HttpStatusCode status, string? type, string? title, string? detail)
    : Exception($"{(int)status} {title ?? status.ToString()}{(detail is null ? "" : $": {detail}")}")
{
    public HttpStatusCode Status { get; } = status;
    public string? ProblemType { get; } = type;
    public string? Detail { get; } = detail;
}

/// <summary>The service's API, typed (paths relative to the configured base address, so a path base is kept).</summary>
public sealed class ConsentServiceClient(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Records a decision; <paramref name="idempotencyKey"/> makes a retry return the first record.</summary>
    public async Task<RecordedConsent> RecordAsync(string siteId, RecordConsentRequest request, string? idempotencyKey = null, CancellationToken ct = default)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, $"v1/sites/{Uri.EscapeDataString(siteId)}/consents")
        {
            Content = JsonContent.Create(request, options: Json),
        };
        if (idempotencyKey is not null) message.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await http.SendAsync(message, ct);
        return await ReadAsync<RecordedConsent>(response, ct);
    }

    /// <summary>The subject's state for every purpose (a <c>check</c> key).</summary>
    public async Task<ConsentState> CheckAsync(string siteId, string subjectId, CancellationToken ct = default)
    {
        using var response = await http.GetAsync($"v1/sites/{Uri.EscapeDataString(siteId)}/subjects/{Uri.EscapeDataString(subjectId)}/consent", ct);
        return await ReadAsync<ConsentState>(response, ct);
    }

    /// <summary>One purpose: may we, and must we ask again?</summary>
    public async Task<PurposeCheck> CheckAsync(string siteId, string subjectId, string purpose, CancellationToken ct = default)
    {
        using var response = await http.GetAsync(
            $"v1/sites/{Uri.EscapeDataString(siteId)}/subjects/{Uri.EscapeDataString(subjectId)}/consent?purpose={Uri.EscapeDataString(purpose)}", ct);
        return await ReadAsync<PurposeCheck>(response, ct);
    }

    /// <summary>Every record of the subject, oldest first (a <c>legal</c> key); null when none is recorded.</summary>
    public async Task<SubjectHistory?> GetHistoryAsync(string siteId, string subjectId, CancellationToken ct = default)
    {
        using var response = await http.GetAsync($"v1/sites/{Uri.EscapeDataString(siteId)}/subjects/{Uri.EscapeDataString(subjectId)}/history", ct);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync<SubjectHistory>(response, ct);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            JsonObject? problem = null;
            try
            {
                problem = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            }
            catch (JsonException)
            {
                // not a problem document: the status says enough
            }
            throw new ConsentServiceException(response.StatusCode, problem?["type"]?.ToString(), problem?["title"]?.ToString(), problem?["detail"]?.ToString());
        }
        return await response.Content.ReadFromJsonAsync<T>(Json, ct) ?? throw new JsonException("An empty answer.");
    }
}
