using System.ComponentModel.DataAnnotations;

namespace ConsentService.Sites;

public enum JurisdictionMode { Gdpr, Ccpa, Auto }

/// <summary>Roles nest: admin can do all that legal can, legal all that check can.</summary>
public enum SiteRole { Check = 1, Legal = 2, Admin = 3 }

public sealed record Site(
    string Id,
    string Name,
    IReadOnlyList<string> AllowedOrigins,
    string DefaultLocale,
    JurisdictionMode JurisdictionMode,
    int ConsentMaxAgeDays,
    int RefusalReaskDays,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int RetentionDays = SiteRules.DefaultRetentionDays,
    int AuditRetentionDays = SiteRules.DefaultAuditRetentionDays,
    string? CookieDomain = null);

public sealed record CreateSiteRequest(
    [property: Required, StringLength(200, MinimumLength = 1)] string Name,
    [property: MaxLength(50)] IReadOnlyList<string>? AllowedOrigins = null,
    [property: RegularExpression(SiteRules.LocalePattern), StringLength(35)] string? DefaultLocale = null,
    JurisdictionMode? JurisdictionMode = null,
    [property: Range(1, SiteRules.MaxDays)] int? ConsentMaxAgeDays = null,
    [property: Range(1, SiteRules.MaxDays)] int? RefusalReaskDays = null,
    [property: Range(SiteRules.MinRetentionDays, SiteRules.MaxDays)] int? RetentionDays = null,
    [property: Range(SiteRules.MinAuditRetentionDays, SiteRules.MaxAuditRetentionDays)] int? AuditRetentionDays = null,
    [property: StringLength(254)] string? CookieDomain = null);

/// <summary>Merge-patch: absent (or null) fields stay as they are; an empty <c>cookieDomain</c> removes it.</summary>
public sealed record UpdateSiteRequest(
    [property: StringLength(200, MinimumLength = 1)] string? Name = null,
    [property: MaxLength(50)] IReadOnlyList<string>? AllowedOrigins = null,
    [property: RegularExpression(SiteRules.LocalePattern), StringLength(35)] string? DefaultLocale = null,
    JurisdictionMode? JurisdictionMode = null,
    [property: Range(1, SiteRules.MaxDays)] int? ConsentMaxAgeDays = null,
    [property: Range(1, SiteRules.MaxDays)] int? RefusalReaskDays = null,
    [property: Range(SiteRules.MinRetentionDays, SiteRules.MaxDays)] int? RetentionDays = null,
    [property: Range(SiteRules.MinAuditRetentionDays, SiteRules.MaxAuditRetentionDays)] int? AuditRetentionDays = null,
    [property: StringLength(254)] string? CookieDomain = null);

public sealed record SiteCreated(string Id, Site Site, IssuedApiKey AdminKey, int PolicyVersion);

public sealed record ApiKey(
    string Id,
    string SiteId,
    SiteRole Role,
    string? Label,
    string Hint,
    string KeyHash,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt);

public sealed record IssueApiKeyRequest(
    [property: Required] SiteRole Role,
    [property: StringLength(100)] string? Label = null);

/// <summary>The only response that ever carries the secret.</summary>
public sealed record IssuedApiKey(string Id, SiteRole Role, string? Label, string Key, DateTimeOffset CreatedAt);

public sealed record ApiKeySummary(string Id, SiteRole Role, string? Label, string Hint, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    public static ApiKeySummary From(ApiKey key) => new(key.Id, key.Role, key.Label, key.Hint, key.CreatedAt, key.RevokedAt);
}

public static partial class SiteRules
{
    /// <summary>A BCP 47 language tag such as "en" or "pt-BR" (as a data-annotation pattern, which must match whole).</summary>
    public const string LocalePattern = "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$";
    public const int MaxDays = 3650;
    /// <summary>CNIL: consent cookies should not outlive 13 months.</summary>
    public const int DefaultConsentMaxAgeDays = 395;
    /// <summary>CNIL: re-asking about six months after a refusal is good practice.</summary>
    public const int DefaultRefusalReaskDays = 182;
    /// <summary>How long a subject's records are kept after its last one before they are shredded: five years.</summary>
    public const int DefaultRetentionDays = 1826;
    public const int MinRetentionDays = 30;
    /// <summary>Audit events: two years by default (CCPA §7101 asks for 24 months of request records); 90 days to 7 years.</summary>
    public const int DefaultAuditRetentionDays = 730;
    public const int MinAuditRetentionDays = 90;
    public const int MaxAuditRetentionDays = 2555;

    /// <summary>Whether <paramref name="value"/> is a locale tag; <c>\z</c>, unlike <c>$</c>, refuses a trailing newline.</summary>
    public static bool IsLocale(string value) => value.Length <= 35 && Locale().IsMatch(value);

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\\z")]
    private static partial System.Text.RegularExpressions.Regex Locale();

    /// <summary>Normalises "https://Example.com/" to "https://example.com"; null when it is not a bare origin.</summary>
    public static string? NormalizeOrigin(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("https" or "http") || uri.UserInfo.Length > 0)
        {
            return null;
        }
        var origin = uri.GetLeftPart(UriPartial.Authority);
        return string.Equals(value.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase) ? origin.ToLowerInvariant() : null;
    }
}
