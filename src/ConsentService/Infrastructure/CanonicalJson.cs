using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConsentService.Infrastructure;

/// <summary>
/// Canonical JSON in the manner of RFC 8785 (JCS): object members sorted by UTF-16 code units,
/// no insignificant white space, minimal string escaping. Hashes over it are reproducible by
/// anyone holding the same data, in any language. Internal: ConsentService.Client compiles this very file
/// (linked, not copied), so a receipt is checked against the form the service hashed.
/// </summary>
internal static class CanonicalJson
{
    public static string Serialize(JsonNode? node)
    {
        var builder = new StringBuilder(256); // a consent record's hashed form is ~400 characters: one or two growths, not five
        Write(builder, node);
        return builder.ToString();
    }

    public static string Serialize<T>(T value, JsonSerializerOptions options) =>
        Serialize(JsonSerializer.SerializeToNode(value, options));

    /// <summary>Lower-case hex SHA-256 of the canonical form.</summary>
    public static string Sha256Hex(JsonNode? node) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Serialize(node))));

    public static void Write(StringBuilder builder, JsonNode? node)
    {
        switch (node)
        {
            case null:
                builder.Append("null");
                break;
            case JsonObject obj:
                builder.Append('{');
                var first = true;
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (!first) builder.Append(',');
                    first = false;
                    WriteString(builder, name);
                    builder.Append(':');
                    Write(builder, value);
                }
                builder.Append('}');
                break;
            case JsonArray array:
                builder.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0) builder.Append(',');
                    Write(builder, array[i]);
                }
                builder.Append(']');
                break;
            case JsonValue value:
                WriteValue(builder, value);
                break;
        }
    }

    private static void WriteValue(StringBuilder builder, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                WriteString(builder, value.GetValue<string>());
                break;
            case JsonValueKind.True:
                builder.Append("true");
                break;
            case JsonValueKind.False:
                builder.Append("false");
                break;
            case JsonValueKind.Number:
                // Only integers are hashed here (versions, sequences); JCS prints them as plain digits.
                var number = value.ToJsonString();
                builder.Append(long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer)
                    ? integer.ToString(CultureInfo.InvariantCulture)
                    : throw new NotSupportedException("Canonical JSON here supports integers only."));
                break;
            default:
                builder.Append("null");
                break;
        }
    }

    public static void WriteString(StringBuilder builder, string text)
    {
        builder.Append('"');
        var plain = 0; // start of the run of characters copied as they are, appended in one piece
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c >= ' ' && c != '"' && c != '\\') continue;
            builder.Append(text, plain, i - plain);
            plain = i + 1;
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default: builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
            }
        }
        builder.Append(text, plain, text.Length - plain).Append('"');
    }
}
