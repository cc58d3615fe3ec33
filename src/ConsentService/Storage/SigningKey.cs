namespace ConsentService.Storage;

/// <summary>
/// A public key the deployment signs or has signed with (never the private key). <see cref="X"/> and
/// <see cref="Y"/> are the P-256 point as JWK members (base64url); <see cref="Kid"/> is its RFC 7638 thumbprint.
/// </summary>
/// <param name="ActivatedAt">When it started signing.</param>
/// <param name="RetiredAt">When it stopped (a rotation); null while it is the active key.</param>
/// <param name="CompromisedAt">From when its signatures are not to be trusted; null when not compromised.</param>
public sealed record SigningKey(string Kid, string X, string Y, DateTimeOffset ActivatedAt, DateTimeOffset? RetiredAt = null, DateTimeOffset? CompromisedAt = null)
{
    public bool IsActive => RetiredAt is null;
}
