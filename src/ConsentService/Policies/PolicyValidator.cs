using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using ConsentService.Infrastructure;
using ConsentService.Sites;

namespace ConsentService.Policies;

/// <summary>
/// Rules a policy must meet beyond field formats: unique purposes, honest legal bases (EDPB 2023:
/// no "legitimate interest" or "essential" for non-essential purposes), texts for every purpose.
/// </summary>
public static class PolicyValidator
{
    public static ValidationErrors Validate(PublishPolicyRequest request)
    {
        var errors = new ValidationErrors();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Purposes.Count; i++)
        {
            var purpose = request.Purposes[i];
            var field = $"purposes[{i}]";
            if (!ids.Add(purpose.Id))
            {
                errors.Add($"{field}.id", $"Purpose '{purpose.Id}' is listed twice.");
            }
            if (purpose.Required && PolicyRules.NeverEssential.Contains(purpose.Id))
            {
                errors.Add($"{field}.required", $"'{purpose.Id}' is not essential and cannot be required: it needs the visitor's consent.");
            }
            if (!purpose.Required && purpose.LegalBasis != LegalBasis.Consent)
            {
                errors.Add($"{field}.legalBasis", "An optional purpose rests on consent; another legal basis would make the visitor's choice meaningless.");
            }
            if (purpose.Required && purpose.LegalBasis == LegalBasis.Consent)
            {
                errors.Add($"{field}.legalBasis", "A required purpose cannot rest on consent: consent that cannot be refused is not freely given.");
            }
            var vendors = purpose.Vendors ?? [];
            for (var v = 0; v < vendors.Count; v++)
            {
                ValidateVendor(errors, $"{field}.vendors[{v}]", vendors[v]);
            }
            if (vendors.Select(v => v.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count() != vendors.Count)
            {
                errors.Add($"{field}.vendors", "Vendor names must be unique within a purpose.");
            }
        }

        NamePatterns.Validate(request, errors);

        if (request.PrivacyPolicyUrl is { } url && !IsWebUrl(url))
        {
            errors.Add("privacyPolicyUrl", "Must be an absolute http(s) URL.");
        }

        foreach (var (locale, texts) in request.Texts)
        {
            var field = $"texts.{locale}";
            if (!SiteRules.IsLocale(locale))
            {
                errors.Add(field, "A locale is a BCP 47 tag such as 'en' or 'pt-BR'.");
            }
            // AddValidation() does not descend into dictionary values, so their annotations are checked here.
            AddAnnotationErrors(errors, field, texts);
            foreach (var (id, purposeTexts) in texts.Purposes)
            {
                AddAnnotationErrors(errors, $"{field}.purposes.{id}", purposeTexts);
            }
            foreach (var missing in ids.Where(id => !texts.Purposes.ContainsKey(id)))
            {
                errors.Add($"{field}.purposes.{missing}", "Every purpose needs a title and description in every locale.");
            }
            foreach (var extra in texts.Purposes.Keys.Where(id => !ids.Contains(id)))
            {
                errors.Add($"{field}.purposes.{extra}", "No purpose has this id.");
            }
        }
        return errors;
    }

    private static void ValidateVendor(ValidationErrors errors, string field, Vendor vendor)
    {
        if (vendor.PrivacyPolicyUrl is { } url && !IsWebUrl(url))
        {
            errors.Add($"{field}.privacyPolicyUrl", "Must be an absolute http(s) URL.");
        }
        var cookies = vendor.Cookies ?? [];
        for (var c = 0; c < cookies.Count; c++)
        {
            if (PatternError(cookies[c], CookieNameChar) is { } error)
            {
                errors.Add($"{field}.cookies[{c}]", "A cookie pattern " + error + " (RFC 6265 token characters).");
            }
        }
        var keys = vendor.LocalStorage ?? [];
        for (var k = 0; k < keys.Count; k++)
        {
            if (PatternError(keys[k], c => !char.IsControl(c)) is { } error)
            {
                errors.Add($"{field}.localStorage[{k}]", "A localStorage key pattern " + error + ".");
            }
        }
    }

    /// <summary>
    /// Why <paramref name="pattern"/> is not a name pattern (literal characters and <c>*</c> for any
    /// run of characters), or null. A pattern of only <c>*</c> is refused: the snippet would delete
    /// every cookie of the page, the site's own sessions with them.
    /// </summary>
    private static string? PatternError(string pattern, Func<char, bool> allowed)
    {
        if (pattern.Length is 0 or > PolicyRules.MaxPatternLength) return $"is 1 to {PolicyRules.MaxPatternLength} characters";
        if (pattern.All(c => c == '*')) return "needs at least one character besides '*'";
        return pattern.All(c => c == '*' || allowed(c)) ? null : "is literal characters and '*' for any run of characters, with no separators or control characters";
    }

    private static bool CookieNameChar(char c) => c is > ' ' and < (char)127 && !"()<>@,;:\\\"/[]?={}".Contains(c, StringComparison.Ordinal);

    private static void AddAnnotationErrors(ValidationErrors errors, string prefix, object value)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
        foreach (var result in results)
        {
            foreach (var member in result.MemberNames)
            {
                errors.Add($"{prefix}.{JsonNamingPolicy.CamelCase.ConvertName(member)}", result.ErrorMessage ?? "Invalid value.");
            }
        }
    }

    public static bool IsWebUrl(string value) =>
        value.Length <= 2048 && Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http";
}
