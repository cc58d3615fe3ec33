using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConsentService.Client;

public static class RequireConsentExtensions
{
    /// <summary>
    /// The endpoint runs only for a request carrying a receipt (header <see cref="ConsentServiceOptions.HeaderName"/>,
    /// else cookie <see cref="ConsentServiceOptions.CookieName"/>) that verifies offline, is of
    /// <see cref="ConsentServiceOptions.SiteId"/>, is fresh (<see cref="ConsentServiceOptions.MaxAge"/>,
    /// <see cref="ConsentServiceOptions.MinimumPolicyVersion"/>) and grants every one of <paramref name="purposes"/>;
    /// otherwise it answers 403 with problem details saying why. The endpoint reads the verified receipt with
    /// <see cref="ConsentHttpContextExtensions.GetVerifiedConsent"/>.
    /// </summary>
    public static TBuilder RequireConsent<TBuilder>(this TBuilder builder, params string[] purposes) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentOutOfRangeException.ThrowIfZero(purposes.Length);
        return builder.AddEndpointFilter(new RequireConsentFilter(purposes));
    }
}

public static class ConsentHttpContextExtensions
{
    private static readonly object Key = new();

    /// <summary>The receipt <c>RequireConsent</c> verified for this request, or null.</summary>
    public static VerifiedReceipt? GetVerifiedConsent(this HttpContext context) => context.Items[Key] as VerifiedReceipt;

    internal static void SetVerifiedConsent(this HttpContext context, VerifiedReceipt receipt) => context.Items[Key] = receipt;
}

internal sealed class RequireConsentFilter(string[] purposes) : IEndpointFilter
{
    public const string ProblemType = "urn:consentservice:problem:consent-required";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var options = http.RequestServices.GetRequiredService<IOptions<ConsentServiceOptions>>().Value;
        var time = http.RequestServices.GetRequiredService<TimeProvider>();
        var text = http.Request.Headers[options.HeaderName].ToString() is { Length: > 0 } header ? header : http.Request.Cookies[options.CookieName];
        if (string.IsNullOrEmpty(text)) return Refuse($"No consent receipt: send it in the {options.HeaderName} header (or the {options.CookieName} cookie).");
        if (ConsentReceipt.Parse(text) is not { } receipt) return Refuse("The consent receipt is not readable.");

        ReceiptVerification verification;
        try
        {
            verification = await http.RequestServices.GetRequiredService<ReceiptVerifier>().VerifyAsync(receipt, http.RequestAborted);
        }
        catch (HttpRequestException)
        {
            // Only before the first JWK set arrived: nothing to verify with yet.
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Consent cannot be verified now.",
                detail: "The consent service's signing keys could not be fetched.", type: "urn:consentservice:problem:consent-unverifiable");
        }
        if (verification.Receipt is not { } verified) return Refuse(verification.Failure!);
        if (verified.SiteId != options.SiteId) return Refuse($"The receipt is of site {verified.SiteId}, not {options.SiteId}.");
        var now = time.GetUtcNow();
        if (verified.RecordedAt > now + options.ClockSkew) return Refuse("The receipt's decision is dated in the future.");
        if (now - verified.RecordedAt > options.MaxAge) return Refuse($"The decision was recorded at {verified.RecordedAt:O}, more than {options.MaxAge.TotalDays:0} days ago: ask again.");
        if (verified.PolicyVersion < options.MinimumPolicyVersion)
        {
            return Refuse($"The decision was made under policy version {verified.PolicyVersion}; version {options.MinimumPolicyVersion} changed what is asked: ask again.");
        }
        var refused = purposes.Where(p => !verified.Grants(p)).ToList();
        if (refused.Count > 0) return Refuse($"The visitor has not granted {string.Join(", ", refused)}.", refused);

        http.SetVerifiedConsent(verified);
        return await next(context);

        IResult Refuse(string why, IReadOnlyList<string>? missing = null) => TypedResults.Problem(
            statusCode: StatusCodes.Status403Forbidden,
            title: "Consent is required.",
            detail: why,
            type: ProblemType,
            extensions: new Dictionary<string, object?> { ["purposes"] = missing ?? purposes });
    }
}
