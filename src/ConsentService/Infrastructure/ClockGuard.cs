using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ConsentService.Infrastructure;

/// <summary>
/// Retention deletes by the clock, so a clock set years ahead (a bad NTP source, a VM restored with
/// the wrong time) would shred every subject and audit event at once. Before deleting, each job asks
/// here: when the clock is further ahead of the newest stored record (consent record or audit event,
/// of any site) than <c>Retention:MaxClockLead</c>
/// (a day by default), it deletes nothing, logs why, and <c>/health/ready</c> reports Degraded until a
/// pass finds the clock plausible again. The process cannot tell a clock jump from a quiet
/// deployment: one that goes longer than that without any record raises the setting.
/// </summary>
public sealed partial class ClockGuard(
    Storage.IConsentStore consents, Storage.IAuditStore audit, TimeProvider time,
    Microsoft.Extensions.Options.IOptions<Subjects.RetentionOptions> options, ILogger<ClockGuard> logger)
{
    private readonly ConcurrentDictionary<string, string> _held = new(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="job"/> may delete now: reads the newest record and event of every site (one index step each).</summary>
    public async Task<bool> MayDeleteAsync(string job, CancellationToken ct) => MayDelete(job, await NewestAsync(ct));

    private async Task<DateTimeOffset?> NewestAsync(CancellationToken ct)
    {
        DateTimeOffset? newest = null;
        void Consider(DateTimeOffset? at)
        {
            if (at is { } value && (newest is null || value > newest)) newest = value;
        }
        foreach (var siteId in await consents.ListSiteIdsAsync(ct))
        {
            Consider(await consents.NewestRecordedAtAsync(siteId, ct));
        }
        foreach (var siteId in await audit.ListSiteIdsAsync(ct))
        {
            // Newest first: the first event of a one-event page.
            Consider((await audit.QueryAsync(siteId, new Audit.AuditFilter(), null, 1, ct)).Items is [var last, ..] ? last.At : null);
        }
        return newest;
    }

    /// <summary>
    /// Whether <paramref name="job"/> may delete now, given when the newest of what it deletes from was
    /// stored (null: nothing stored, nothing to delete wrongly).
    /// </summary>
    public bool MayDelete(string job, DateTimeOffset? newest)
    {
        var now = time.GetUtcNow();
        var lead = options.Value.MaxClockLead;
        if (newest is not { } last || now - last <= lead)
        {
            if (_held.TryRemove(job, out _)) LogResumed(job);
            return true;
        }
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"{job} deletes nothing: the clock ({now:u}) is {(now - last).TotalDays:0.#} days ahead of the newest stored record ({last:u}), " +
            $"more than Retention:MaxClockLead ({lead}). Check the system clock; a deployment that is quiet for longer raises the setting.");
        _held[job] = reason;
        LogHeld(reason); // at every pass: an error worth seeing until someone acts
        return false;
    }

    /// <summary>The jobs held back now, with the reason each.</summary>
    public IReadOnlyDictionary<string, string> Held => _held;

    [LoggerMessage(LogLevel.Error, "{Reason}")]
    private partial void LogHeld(string reason);

    [LoggerMessage(LogLevel.Information, "{Job} deletes again: the clock is within range of the newest stored record")]
    private partial void LogResumed(string job);
}

/// <summary>Degraded while a retention job holds back because of the clock: the service works, retention waits.</summary>
public sealed class ClockHealthCheck(ClockGuard guard) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(guard.Held.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded(string.Join(" ", guard.Held.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => h.Value))));
}
