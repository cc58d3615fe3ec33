using ConsentService.PrivacyConsole;

namespace ConsentService.Storage;

/// <summary>
/// The console's sessions, apart from the ledger (SQLite: its own file <c>sessions.db</c>; MongoDB: collection
/// <c>consoleSessions</c>), so every instance of a deployment sees a sign-in and a sign-out at once. Holds only
/// the SHA-256 of each session id, never the id itself: a copy of the store opens no session.
/// Every adapter passes <c>SessionStoreContract</c>.
/// </summary>
public interface ISessionStore
{
    /// <summary>Creates the table or indexes; idempotent.</summary>
    Task InitializeAsync(CancellationToken ct);

    Task CreateAsync(ConsoleSession session, CancellationToken ct);

    /// <summary>The session with this id hash, expired or not (the caller judges expiry by its clock), or null.</summary>
    Task<ConsoleSession?> FindAsync(string idHash, CancellationToken ct);

    /// <summary>Moves the idle deadline to <paramref name="idleExpiresAt"/>, never backwards; false when the session is gone.</summary>
    Task<bool> ExtendAsync(string idHash, DateTimeOffset idleExpiresAt, CancellationToken ct);

    /// <summary>Ends the session; false when there was none.</summary>
    Task<bool> DeleteAsync(string idHash, CancellationToken ct);

    /// <summary>Deletes every session whose idle deadline is before <paramref name="now"/>; returns how many.</summary>
    Task<long> DeleteExpiredAsync(DateTimeOffset now, CancellationToken ct);
}
