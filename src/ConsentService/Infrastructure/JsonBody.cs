using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace ConsentService.Infrastructure;

/// <summary>
/// Reads a JSON body by hand, for endpoints that must also take <c>text/plain</c> (a browser's
/// "simple" request: no CORS preflight, and what <c>navigator.sendBeacon</c> sends).
/// </summary>
public static class JsonBody
{
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest request, long maxBytes, CancellationToken ct) where T : class
    {
        if (request.ContentType is { } contentType && !IsJsonOrText(contentType))
        {
            return (null, Problems.Status(StatusCodes.Status415UnsupportedMediaType, ProblemTypes.UnsupportedMediaType,
                "Unsupported media type.", "Send the body as application/json or text/plain (UTF-8)."));
        }
        // A declared length over the cap was answered by UseBodySizeLimits; this counts what actually arrives.
        var bytes = await ReadAtMostAsync(request.BodyReader, maxBytes, ct);
        if (bytes is null)
        {
            return (null, Problems.PayloadTooLarge(maxBytes));
        }
        try
        {
            var value = JsonSerializer.Deserialize<T>(bytes, JsonDefaults.Options);
            return value is null
                ? (null, TypedResults.Problem(ProblemExceptionHandler.InvalidBody("$", "The body must be a JSON object.")))
                : (value, null);
        }
        catch (JsonException json)
        {
            return (null, TypedResults.Problem(ProblemExceptionHandler.InvalidBody(json)));
        }
    }

    private static bool IsJsonOrText(string contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase))
        && (!media.Charset.HasValue || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    /// <summary>The whole body, or null when it is longer than <paramref name="maxBytes"/> (counted, not trusted from headers).</summary>
    private static async Task<byte[]?> ReadAtMostAsync(PipeReader reader, long maxBytes, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            var buffer = result.Buffer;
            if (buffer.Length > maxBytes)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }
            if (result.IsCompleted)
            {
                var bytes = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return bytes;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
