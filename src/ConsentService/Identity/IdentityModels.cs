using System.Text.Json.Serialization;
using ConsentService.Consents;

namespace ConsentService.Identity;

/// <summary>
/// A site's identity secret, as stored: never the secret itself, only the random <see cref="Seed"/> it is
/// derived from with the deployment's identity key (<see cref="IdentitySecretVault"/>). A copy of this row alone
/// mints no token.
/// </summary>
public sealed record IdentitySecret(string Id, string SiteId, byte[] Seed, string Hint, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>The only response that ever carries the secret: the site's back end signs subject tokens with it (HS256, <c>kid</c> = <see cref="Id"/>).</summary>
public sealed record IssuedIdentitySecret(string Id, string Secret, string Hint, DateTimeOffset CreatedAt);

public sealed record IdentitySecretSummary(string Id, string Hint, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    public static IdentitySecretSummary From(IdentitySecret s) => new(s.Id, s.Hint, s.CreatedAt, s.RevokedAt);
}

/// <summary>An anonymous subject tied to a user id: <see cref="SubjectId"/> is the <c>sub_</c> id, linked at <see cref="LinkedAt"/>.</summary>
public sealed record SubjectLink(string SubjectId, DateTimeOffset LinkedAt);

/// <summary>
/// The body of <c>POST /v1/sites/{siteId}/identify</c>: the subject token the site's back end minted, and the
/// browser's anonymous subject with its write secret, to be linked to the user.
/// </summary>
public sealed record IdentifyRequest(
    string? SubjectToken = null,
    string? SubjectId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SubjectSecret = null);

/// <summary>
/// The identified visitor's current decision, for the snippet on any device (null fields: none recorded);
/// <see cref="Linked"/> says whether the browser's anonymous subject is now tied to the user.
/// </summary>
public sealed record IdentifiedConsent(
    bool Linked,
    int? PolicyVersion,
    IReadOnlyDictionary<string, bool>? Purposes,
    ConsentMethod? Method,
    DateTimeOffset? RecordedAt);

/// <summary>A linked anonymous subject's records, in the history and the export of the user it is linked to.</summary>
public sealed record LinkedHistory(string SubjectId, DateTimeOffset LinkedAt, IReadOnlyList<ConsentRecordView> Records);
