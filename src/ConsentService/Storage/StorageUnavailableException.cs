namespace ConsentService.Storage;

/// <summary>
/// The storage under a store refused a write for a reason of its own — disk full, I/O error, read-only,
/// locked too long — not because of what was written. Nothing of the write is kept. Clients get a 503
/// with <c>Retry-After</c> (it is not their mistake, and it may pass), and readiness reports the store
/// unhealthy until a write succeeds again.
/// </summary>
public sealed class StorageUnavailableException(string message, Exception innerException) : Exception(message, innerException);
