using System.Security.Cryptography;
using System.Text.Json;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Policies;

namespace ConsentService.Webhooks;

/// <summary>
/// The events and their payloads (Standard Webhooks: <c>{type, timestamp, data}</c>). Built by the stores inside
/// the transaction that makes the change, so the outbox holds a message exactly when the change committed.
/// </summary>
public static class WebhookEvents
{
    public const string ConsentRecorded = "consent.recorded";
    public const string SubjectErased = "subject.erased";
    public const string PolicyPublished = "policy.published";

    public static IReadOnlyList<string> All { get; } = [ConsentRecorded, SubjectErased, PolicyPublished];

    /// <summary>
    /// The subject id is the one the site itself set (its visitor or user id): its tools need it to act, and
    /// the message goes only to endpoints the site's admin registered. Ordered by the subject's commitment,
    /// which an erasure can still name (it holds the key) and nobody can after.
    /// </summary>
    public static OutboxEvent Recorded(ConsentRecord record) => new(record.SiteId, ConsentRecorded, () => Message(record.SiteId, ConsentRecorded,
        record.SubjectCommitment, record.Position, record.RecordedAt, new ConsentRecordedData(record.SiteId, record.SubjectId, record.Purposes,
            JsonDefaults.Name(record.Method), record.PolicyVersion, record.Position, record.Id, record.RecordedAt)));

    /// <summary>Carries the id so the tools can forget the person too; its payload is destroyed once delivered.</summary>
    public static OutboxEvent Erased(string siteId, string subjectId, string subjectCommitment, long lastPosition, DateTimeOffset at) =>
        new(siteId, SubjectErased, () => Message(siteId, SubjectErased, subjectCommitment, lastPosition, at, new SubjectErasedData(siteId, subjectId, lastPosition)));

    public static OutboxEvent Published(Policy policy) => new(policy.SiteId, PolicyPublished, () => Message(policy.SiteId, PolicyPublished, null, 0,
        policy.PublishedAt, new PolicyPublishedData(policy.SiteId, policy.Version, policy.Material, policy.ContentHash)));

    private static WebhookMessage Message<T>(string siteId, string type, string? orderingKey, long sequence, DateTimeOffset at, T data) =>
        new("msg_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), siteId, type, orderingKey, sequence,
            JsonSerializer.Serialize(new Envelope<T>(type, at, data), JsonDefaults.Options), at);

    private sealed record Envelope<T>(string Type, DateTimeOffset Timestamp, T Data);
}

/// <summary>
/// An event for the outbox, written in the transaction of the change it reports. Which endpoints want it follows from
/// its site and type; its message (a random id, the serialised payload) is made only when one does, so a site without
/// webhooks pays no serialisation on the ledger's single writer for each decision.
/// </summary>
public sealed record OutboxEvent(string SiteId, string Type, Func<WebhookMessage> Message);

/// <param name="Position">The record's ledger position: its leaf in the signed checkpoints.</param>
public sealed record ConsentRecordedData(
    string SiteId, string? SubjectId, IReadOnlyDictionary<string, bool> Purposes, string Method, int PolicyVersion, long Position,
    string RecordId, DateTimeOffset RecordedAt);

public sealed record SubjectErasedData(string SiteId, string SubjectId, long LastPosition);

public sealed record PolicyPublishedData(string SiteId, int PolicyVersion, bool Material, string ContentHash);
