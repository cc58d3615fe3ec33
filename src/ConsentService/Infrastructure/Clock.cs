namespace ConsentService.Infrastructure;

public static class Clock
{
    /// <summary>
    /// Now, at millisecond precision: the finest both stores keep, so what a write answers is
    /// exactly what a later read returns (and what the ledger hashes).
    /// </summary>
    public static DateTimeOffset Now(this TimeProvider time) => Truncate(time.GetUtcNow());

    public static DateTimeOffset Truncate(DateTimeOffset at) => DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
}
