namespace ConsentService.Client;

/// <summary>Where the service is and what a receipt must show to count (<see cref="RequireConsentExtensions.RequireConsent"/>).</summary>
public sealed class ConsentServiceOptions
{
    /// <summary>The service's base URL, e.g. <c>https://consent.example.com/</c> (a path base is kept).</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>The site whose receipts count: a receipt of any other site is refused.</summary>
    public string? SiteId { get; set; }

    /// <summary>A site key for the API calls (check, history, back-end writes); not needed to verify receipts.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The request header that carries the receipt (its JSON as <c>ConsentService.receipt()</c> returns it, or that JSON base64url-encoded).</summary>
    public string HeaderName { get; set; } = "Consent-Receipt";

    /// <summary>The cookie read when the header is absent; cookie values cannot hold JSON, so it holds the base64url form.</summary>
    public string CookieName { get; set; } = "consent_receipt";

    /// <summary>How old a decision may be to count (the site's <c>consentMaxAgeDays</c>, 395 days by default, as CNIL's 13 months).</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(395);

    /// <summary>
    /// The lowest policy version a decision may have been made under: set it to your latest material version, so that a
    /// decision made before a material change does not count (an offline check cannot see publications otherwise).
    /// </summary>
    public int? MinimumPolicyVersion { get; set; }

    /// <summary>Least time between two fetches of the JWK set when a receipt names a key not in the cached set: forged kids cannot make it call the service more often.</summary>
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The cached JWK set is fetched again after this long (to learn of rotations and keys marked compromised).</summary>
    public TimeSpan KeySetMaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How far a receipt's time may be ahead of this machine's clock.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(5);
}
