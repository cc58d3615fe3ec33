using Microsoft.Extensions.Primitives;

namespace ConsentService.Snippet;

/// <summary>
/// Serves a <see cref="PrecompressedVariant"/>: picks the encoding from Accept-Encoding, answers a
/// matching If-None-Match with 304 before touching the bytes, and writes the stored bytes as they are.
/// Cache-Control, Vary and CORS headers are set by the endpoint before.
/// </summary>
public sealed class PrecompressedResult(PrecompressedVariant variant) : IResult
{
    public PrecompressedVariant Variant { get; } = variant;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var request = httpContext.Request;
        var response = httpContext.Response;
        var body = Choose(Variant, request.Headers.AcceptEncoding);

        response.Headers.ETag = body.ETagHeader;
        if (Matches(request.Headers.IfNoneMatch, body.ETag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.ContentType = Variant.ContentType;
        if (body.ContentEncoding.Count > 0) response.Headers.ContentEncoding = body.ContentEncoding;
        response.ContentLength = body.Bytes.Length;
        return HttpMethods.IsHead(request.Method) ? Task.CompletedTask : response.Body.WriteAsync(body.Bytes).AsTask();
    }

    /// <summary>Brotli when accepted, else gzip when accepted, else the plain bytes (always acceptable in practice).</summary>
    public static EncodedBody Choose(PrecompressedVariant variant, StringValues acceptEncoding)
    {
        var (br, gzip, any) = (Acceptance.Unlisted, Acceptance.Unlisted, Acceptance.Unlisted);
        foreach (var header in acceptEncoding)
        {
            if (header is null) continue;
            var rest = header.AsSpan();
            while (rest.Length > 0)
            {
                var comma = rest.IndexOf(',');
                var item = (comma < 0 ? rest : rest[..comma]).Trim();
                rest = comma < 0 ? [] : rest[(comma + 1)..];
                var semicolon = item.IndexOf(';');
                var coding = (semicolon < 0 ? item : item[..semicolon]).Trim();
                var accepted = semicolon < 0 || QualityAboveZero(item[(semicolon + 1)..]) ? Acceptance.Yes : Acceptance.No;
                if (coding.Equals("br", StringComparison.OrdinalIgnoreCase)) br = accepted;
                else if (coding.Equals("gzip", StringComparison.OrdinalIgnoreCase)) gzip = accepted;
                else if (coding.SequenceEqual("*")) any = accepted;
            }
        }
        if (br == Acceptance.Yes || (br == Acceptance.Unlisted && any == Acceptance.Yes)) return variant.Brotli;
        if (gzip == Acceptance.Yes || (gzip == Acceptance.Unlisted && any == Acceptance.Yes)) return variant.Gzip;
        return variant.Identity;
    }

    private enum Acceptance { Unlisted, Yes, No }

    /// <summary>Parameters after the coding; only <c>q</c> matters, and only whether it is zero.</summary>
    private static bool QualityAboveZero(ReadOnlySpan<char> parameters)
    {
        foreach (var range in parameters.Split(';'))
        {
            var parameter = parameters[range].Trim();
            if (parameter.Length < 2 || parameter[0] is not ('q' or 'Q')) continue;
            var value = parameter[1..].TrimStart();
            if (value.Length == 0 || value[0] != '=') continue;
            value = value[1..].Trim();
            // RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
            return double.TryParse(value, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var q) && q > 0;
        }
        return true;
    }

    /// <summary>
    /// If-None-Match uses the weak comparison (RFC 9110 §13.1.2): a <c>W/</c> prefix is ignored;
    /// <c>*</c> matches any current representation.
    /// </summary>
    public static bool Matches(StringValues ifNoneMatch, string etag)
    {
        foreach (var header in ifNoneMatch)
        {
            if (header is null) continue;
            foreach (var range in header.AsSpan().Split(','))
            {
                var tag = header.AsSpan()[range].Trim();
                if (tag.SequenceEqual("*")) return true;
                if (tag.StartsWith("W/", StringComparison.Ordinal)) tag = tag[2..];
                if (tag.SequenceEqual(etag)) return true;
            }
        }
        return false;
    }
}
