using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Net.Http.Headers;

namespace ConsentService.Infrastructure;

/// <summary>
/// A download of newline-delimited JSON (one object per line), written as the items arrive, so memory
/// stays flat however many there are. Declares its 200 response for the OpenAPI document.
/// </summary>
public sealed class NdjsonFile<T>(IAsyncEnumerable<T> items, string fileName) : IResult, IEndpointMetadataProvider
{
    public const string ContentType = "application/x-ndjson";

    /// <summary>Items written between flushes: the client sees progress, the network sees full packets.</summary>
    private const int FlushEvery = 100;

    private static readonly byte[] Newline = [(byte)'\n'];

    public string FileName => fileName;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileName = fileName }.ToString();
        response.Headers.CacheControl = "no-store";

        var ct = httpContext.RequestAborted;
        var count = 0;
        await foreach (var item in items.WithCancellation(ct))
        {
            await JsonSerializer.SerializeAsync(response.Body, item, JsonDefaults.Options, ct);
            await response.Body.WriteAsync(Newline, ct);
            if (++count % FlushEvery == 0)
            {
                await response.Body.FlushAsync(ct);
            }
        }
        await response.Body.FlushAsync(ct);
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1000", Justification = "IEndpointMetadataProvider's member is static by definition.")]
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), [ContentType]));
}
