using System.ComponentModel.DataAnnotations;

namespace ConsentService.Policies;

/// <summary>GDPR Art. 6(1) lawful bases.</summary>
public enum LegalBasis { Consent, Contract, LegalObligation, VitalInterest, PublicTask, LegitimateInterest }

/// <param name="Cookies">Name patterns of the first-party cookies the vendor sets (literal text and <c>*</c>, e.g. <c>_ga_*</c>): shown in the preferences, and deleted by the snippet when the purpose is refused or withdrawn.</param>
/// <param name="LocalStorage">Key patterns of the vendor's localStorage entries, deleted likewise.</param>
public sealed record Vendor(
    [property: Required, StringLength(100, MinimumLength = 1)] string Name,
    [property: StringLength(2048)] string? PrivacyPolicyUrl = null,
    [property: MaxLength(PolicyRules.MaxPatterns)] IReadOnlyList<string>? Cookies = null,
    [property: MaxLength(PolicyRules.MaxPatterns)] IReadOnlyList<string>? LocalStorage = null);

public sealed record Purpose(
    [property: Required, RegularExpression(PolicyRules.PurposeIdPattern)] string Id,
    bool Required,
    LegalBasis LegalBasis,
    [property: MaxLength(50)] IReadOnlyList<Vendor>? Vendors = null);

public sealed record PurposeTexts(
    [property: Required, StringLength(200, MinimumLength = 1)] string Title,
    [property: Required, StringLength(2000, MinimumLength = 1)] string Description);

/// <summary>Everything a visitor reads in one language: the banner, its buttons and each purpose.</summary>
public sealed record PolicyTexts(
    [property: Required, StringLength(200, MinimumLength = 1)] string Title,
    [property: Required, StringLength(4000, MinimumLength = 1)] string Description,
    [property: Required, StringLength(60, MinimumLength = 1)] string AcceptAll,
    [property: Required, StringLength(60, MinimumLength = 1)] string RejectAll,
    [property: Required, StringLength(60, MinimumLength = 1)] string Preferences,
    [property: Required, StringLength(60, MinimumLength = 1)] string Save,
    [property: Required] IReadOnlyDictionary<string, PurposeTexts> Purposes);

/// <summary>What a visitor is shown; <see cref="Policy.ContentHash"/> is taken over exactly this.</summary>
public sealed record PolicyContent(
    IReadOnlyList<Purpose> Purposes,
    IReadOnlyDictionary<string, PolicyTexts> Texts,
    string? PrivacyPolicyUrl);

public sealed record PublishPolicyRequest(
    [property: Required, MinLength(1), MaxLength(20)] IReadOnlyList<Purpose> Purposes,
    [property: Required, MinLength(1), MaxLength(40)] IReadOnlyDictionary<string, PolicyTexts> Texts,
    [property: StringLength(2048)] string? PrivacyPolicyUrl = null,
    bool? Material = null);

/// <summary>An immutable, published policy version.</summary>
public sealed record Policy(string SiteId, int Version, DateTimeOffset PublishedAt, string ContentHash, bool Material, PolicyContent Content)
{
    public IEnumerable<Purpose> OptionalPurposes => Content.Purposes.Where(p => !p.Required);
}

public sealed record PolicySummary(int Version, DateTimeOffset PublishedAt, string ContentHash, bool Material);

public sealed record PolicyVersionResponse(
    int Version,
    DateTimeOffset PublishedAt,
    string ContentHash,
    bool Material,
    IReadOnlyList<Purpose> Purposes,
    IReadOnlyDictionary<string, PolicyTexts> Texts,
    string? PrivacyPolicyUrl)
{
    public static PolicyVersionResponse From(Policy policy) => new(
        policy.Version, policy.PublishedAt, policy.ContentHash, policy.Material,
        policy.Content.Purposes, policy.Content.Texts, policy.Content.PrivacyPolicyUrl);
}

public static class PolicyRules
{
    public const string PurposeIdPattern = "^[a-z][a-z0-9_]{0,39}$";

    /// <summary>Cookie and localStorage patterns per vendor, and their length: the snippet carries them all.</summary>
    public const int MaxPatterns = 50;
    public const int MaxPatternLength = 100;

    /// <summary>Purposes that are never essential: classing them as required is a dark pattern (EDPB 2023).</summary>
    public static readonly IReadOnlySet<string> NeverEssential = new HashSet<string>(StringComparer.Ordinal)
    {
        "analytics", "marketing", "model_improvement",
    };
}
