using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConsentService.Infrastructure;

/// <summary>One set of JSON rules for the HTTP API and for stored documents.</summary>
public static class JsonDefaults
{
    public static readonly JsonSerializerOptions Options = Apply(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Apply(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.DictionaryKeyPolicy = null; // purpose ids and locales are data, kept as written
        // "accept_all", "legal_obligation"…; numbers are not enum values.
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.RespectNullableAnnotations = true;
        options.RespectRequiredConstructorParameters = true;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.AllowTrailingCommas = false;
        options.ReadCommentHandling = JsonCommentHandling.Disallow;
        options.MaxDepth = 16;
        return options;
    }

    /// <summary>The wire name of an enum value, e.g. <c>AcceptAll</c> → <c>accept_all</c>.</summary>
    public static string Name<TEnum>(TEnum value) where TEnum : struct, Enum =>
        EnumNames<TEnum>.Names.TryGetValue(value, out var name) ? name : JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>Each defined value's wire name, converted once: keyed requests name their key's role on every request.</summary>
    private static class EnumNames<TEnum> where TEnum : struct, Enum
    {
        public static readonly FrozenDictionary<TEnum, string> Names =
            Enum.GetValues<TEnum>().Distinct().ToFrozenDictionary(v => v, v => JsonNamingPolicy.SnakeCaseLower.ConvertName(v.ToString()));
    }

    public static TEnum Parse<TEnum>(string name) where TEnum : struct, Enum =>
        Enum.Parse<TEnum>(name.Replace("_", "", StringComparison.Ordinal), ignoreCase: true);

    /// <summary>The enum value whose wire name is exactly <paramref name="name"/>, else null (for query strings).</summary>
    public static TEnum? TryParse<TEnum>(string? name) where TEnum : struct, Enum =>
        Enum.GetValues<TEnum>().Cast<TEnum?>().FirstOrDefault(v => Name(v!.Value) == name);
}
