using ConsentService.Infrastructure;

namespace ConsentService.PrivacyConsole;

/// <summary>
/// The second line behind the CSRF token for cookie-authenticated writes: a browser says where a request
/// comes from (<c>Sec-Fetch-Site</c>, <c>Origin</c>), and a write from anywhere but this origin is refused.
/// A client that sends neither (curl with a copied cookie) is not a browser being abused; the token still applies.
/// </summary>
public static class CrossSiteGuard
{
    public static bool IsSameOrigin(HttpRequest request, string? publicUrl)
    {
        var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite.Length > 0 && !string.Equals(fetchSite, "same-origin", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0) return true;
        if (string.Equals(origin, $"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase)) return true;
        // Behind a proxy that does not forward the host, the browser's origin is the configured public URL's.
        return publicUrl is not null && Uri.TryCreate(publicUrl, UriKind.Absolute, out var uri)
            && string.Equals(origin, uri.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether a request of this method changes something (RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe).</summary>
    public static bool IsWrite(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    /// <summary>The problem for a cookie-authenticated write without the session's token, or from another site; null when it may proceed.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? Check(HttpRequest request, string sessionToken, string? publicUrl)
    {
        if (!IsSameOrigin(request, publicUrl))
        {
            return Problems.Csrf("A cookie-authenticated change must come from this service's own origin.");
        }
        var sent = request.Headers[ConsoleSessions.CsrfHeader].ToString();
        return sent.Length > 0 && Secrets.FixedTimeEquals(sent, ConsoleSessions.CsrfToken(sessionToken))
            ? null
            : Problems.Csrf($"A cookie-authenticated {request.Method} needs the session's CSRF token in '{ConsoleSessions.CsrfHeader}'.");
    }
}
