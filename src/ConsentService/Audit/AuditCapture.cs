using System.Globalization;
using ConsentService.Consents;
using ConsentService.Infrastructure;
using ConsentService.Storage;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Net.Http.Headers;

namespace ConsentService.Audit;

/// <summary>Marks an endpoint whose calls are not audited even with a secret key.</summary>
public sealed class NotAudited
{
    public static readonly NotAudited Instance = new();

    private NotAudited() { }
}

public static class AuditCapture
{
    /// <summary>Leaves the endpoint's calls out of the audit log; say why where it is used.</summary>
    public static TBuilder WithoutAudit<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(NotAudited.Instance);

    /// <summary>
    /// Records every request a secret key was accepted for (see <see cref="AuthenticatedKey"/>), with the
    /// status it was answered with. Goes right before <c>UseKeyAuthorization()</c>, around it: a key's
    /// 403 and 404 come from there and are recorded too. A request that fails with 401 has no "who" and is
    /// not recorded.
    /// <para>
    /// The event is written as the response starts: the status is final then (also when the exception
    /// handler answers for an endpoint that threw), and the client sees nothing of a response before its
    /// event is stored. A response that never starts (the client went away) is recorded when it completes.
    /// </para>
    /// </summary>
    public static IApplicationBuilder UseAuditLog(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var endpoint = context.GetEndpoint();
        // No Authorization header, no key to accept: the public hot paths (snippet, config, visitors' decisions) pay nothing here.
        // A console session's request (cookie, resolved by UseKeyLookup) and the console's sign-in and sign-out are audited as keyed ones.
        if (endpoint is null || endpoint.Metadata.GetMetadata<NotAudited>() is not null
            || (!context.Request.Headers.ContainsKey(HeaderNames.Authorization) && context.Features.Get<PrivacyConsole.SessionCredential>() is null
                && endpoint.Metadata.GetMetadata<PrivacyConsole.AuditedWithoutKeyHeader>() is null))
        {
            await next(context);
            return;
        }
        // Taken before the endpoint runs: the exception handler clears the endpoint and route values before it answers.
        var pending = new PendingAuditEvent(context, AuditDraft.From(context, endpoint), context.RequestServices.GetRequiredService<AuditRecorder>());
        context.Response.OnStarting(pending.RecordAsync);
        context.Response.OnCompleted(pending.RecordAsync);
        await next(context);
    });
}

/// <summary>
/// Route-derived parts of an event, known before the request runs. A subject id in the route is left
/// out of the target and replaced in the path (<see cref="AuditSubject"/>): the event names the subject
/// by the pseudonym the endpoint reports, never by its id. Query strings are never recorded.
/// </summary>
internal sealed record AuditDraft(string Action, IReadOnlyDictionary<string, string> Target, bool NamesSubject, string Method, string Path)
{
    public static AuditDraft From(HttpContext context, Endpoint endpoint)
    {
        var action = endpoint.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName
            ?? endpoint.DisplayName ?? "unnamed";
        var target = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string? subject = null;
        foreach (var (name, value) in context.Request.RouteValues)
        {
            if (name == "siteId" || Convert.ToString(value, CultureInfo.InvariantCulture) is not { } text) continue;
            if (name == AuditSubject.RouteValue) subject = text;
            else target[name] = text;
        }
        var path = context.Request.Path;
        return new AuditDraft(action, target, subject is not null, context.Request.Method,
            subject is null ? path.ToString() : WithoutSubject(path, subject, (endpoint as RouteEndpoint)?.RoutePattern));
    }

    /// <summary>The path with the segment the route binds to the subject id replaced; any other copy of the id too.</summary>
    private static string WithoutSubject(PathString path, string subject, RoutePattern? pattern)
    {
        var parts = (path.Value ?? "").Split('/');
        var replaced = false;
        for (var i = 0; pattern is not null && i < pattern.PathSegments.Count && i + 1 < parts.Length; i++)
        {
            if (pattern.PathSegments[i].Parts is [RoutePatternParameterPart { Name: AuditSubject.RouteValue }] && parts[i + 1] == subject)
            {
                parts[i + 1] = AuditSubject.PathPlaceholder;
                replaced = true;
            }
        }
        var text = new PathString(string.Join('/', parts)).ToString();
        if (replaced) return text;
        // A path the pattern did not line up with (encoded slashes…): the id does not survive in any spelling.
        foreach (var spelling in new[] { subject, Uri.EscapeDataString(subject), new PathString("/" + subject).ToString()[1..] })
        {
            if (spelling.Length > 0) text = text.Replace(spelling, AuditSubject.PathPlaceholder, StringComparison.Ordinal);
        }
        return text;
    }

    /// <summary>The target as recorded: the pseudonym the endpoint reported joins it when the route names a subject.</summary>
    public IReadOnlyDictionary<string, string> TargetOf(HttpContext context)
    {
        if (!NamesSubject) return Target;
        return new SortedDictionary<string, string>(Target.ToDictionary(), StringComparer.Ordinal)
        {
            [AuditSubject.TargetKey] = context.Features.Get<AuditSubject>()?.Commitment ?? AuditSubject.Unknown,
        };
    }
}

/// <summary>Records one request's event once, from whichever of the response's start or completion comes first.</summary>
internal sealed class PendingAuditEvent(HttpContext context, AuditDraft draft, AuditRecorder recorder)
{
    private int _recorded;

    public Task RecordAsync()
    {
        // Only a request a key was accepted for has a "who".
        if (context.Features.Get<AuthenticatedKey>() is not { } key || Interlocked.Exchange(ref _recorded, 1) == 1)
        {
            return Task.CompletedTask;
        }
        return recorder.RecordAsync(key, draft, context, context.Response.StatusCode);
    }
}

/// <summary>Turns a finished request into an <see cref="AuditEvent"/> and appends it.</summary>
public sealed partial class AuditRecorder(IAuditStore store, TimeProvider time, ILogger<AuditRecorder> logger)
{
    internal async Task RecordAsync(AuthenticatedKey key, AuditDraft draft, HttpContext context, int outcome)
    {
        var siteId = key.SiteId ?? CreatedSiteId(context.Response);
        if (siteId is null)
        {
            // The operator's request failed before a site existed: there is no site log to hold it.
            LogNoSite(draft.Action, outcome, context.TraceIdentifier);
            return;
        }
        var at = time.Now();
        var auditEvent = new AuditEvent(
            Guid.CreateVersion7(at).ToString(),
            siteId,
            at,
            key.KeyId,
            key.Role,
            draft.Action,
            draft.TargetOf(context),
            context.TraceIdentifier,
            outcome,
            SourceMinimizer.IpPrefix(context.Connection.RemoteIpAddress),
            draft.Method,
            draft.Path);
        try
        {
            // Not the request's token: a change the client stopped waiting for still happened and is still recorded.
            await store.AppendAsync(auditEvent, CancellationToken.None);
            _appendFailure = null;
        }
        catch (Exception e)
        {
            // The request itself succeeded or failed on its own; a broken audit store must not change its answer.
            LogAppendFailed(e, draft.Action, auditEvent.SiteId, auditEvent.RequestId);
            _appendFailure = e.Message;
        }
    }

    private volatile string? _appendFailure;

    /// <summary>Why the latest event could not be stored (a full disk answers pings but takes no event), or null.</summary>
    public string? AppendFailure => _appendFailure;

    /// <summary><c>POST /v1/sites</c> answers <c>201</c> with <c>Location: /v1/sites/{id}</c>: the site the event belongs to.</summary>
    private static string? CreatedSiteId(HttpResponse response)
    {
        const string prefix = "/v1/sites/";
        var location = response.Headers.Location.ToString();
        if (response.StatusCode != StatusCodes.Status201Created || !location.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }
        var id = location[prefix.Length..];
        return id.Length > 0 && !id.Contains('/', StringComparison.Ordinal) ? id : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Operator request {Action} ({Outcome}, request {RequestId}) concerns no existing site and is not in any audit log")]
    private partial void LogNoSite(string action, int outcome, string requestId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write the audit event of {Action} on site {SiteId} (request {RequestId})")]
    private partial void LogAppendFailed(Exception exception, string action, string siteId, string requestId);
}
