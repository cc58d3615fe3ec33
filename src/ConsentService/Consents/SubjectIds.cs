using System.Text.RegularExpressions;
using ConsentService.Infrastructure;

namespace ConsentService.Consents;

/// <summary>
/// Who may write for whom (DESIGN §3): without a secret key only random ids (<c>sub_</c> + 22
/// base64url characters, 128 bits) are accepted, so a stranger cannot guess somebody's id and write
/// consent for them; the site's own user ids are written by its back end with a key.
/// </summary>
public static partial class SubjectIds
{
    public const string Rule = "1 to 128 letters, digits or . _ : @ | + = -.";

    public static string New() => "sub_" + Secrets.Token(16);

    /// <summary>
    /// The format of a minted id, and at least <see cref="MinDistinct"/> different characters among the 22:
    /// no CSPRNG output fails that in practice (odds about 3e-13), while hand-made ids such as
    /// <c>sub_AAAAAAAAAAAAAAAAAAAAAA</c> or <c>sub_test_test_test_test_</c> do. Not a security boundary (the
    /// write secret is): it makes a client that hard-codes one id for every visitor fail loudly.
    /// </summary>
    public static bool IsRandom(string id) => Random().IsMatch(id) && LooksRandom(id.AsSpan(4));

    public const int MinDistinct = 8;

    /// <summary>Whether <paramref name="text"/> has at least <see cref="MinDistinct"/> different characters.</summary>
    public static bool LooksRandom(ReadOnlySpan<char> text)
    {
        Span<bool> seen = stackalloc bool[128];
        var distinct = 0;
        foreach (var c in text)
        {
            if (c < 128 && !seen[c])
            {
                seen[c] = true;
                distinct++;
            }
        }
        return distinct >= MinDistinct;
    }

    /// <summary>Any id the site's back end may use: 1–128 characters without spaces or slashes.</summary>
    public static bool IsValid(string id) => External().IsMatch(id);

    [GeneratedRegex("^sub_[A-Za-z0-9_-]{22}\\z")]
    private static partial Regex Random();

    [GeneratedRegex("^[A-Za-z0-9._:@|+=-]{1,128}\\z")]
    private static partial Regex External();
}
