using System.Text.Json;
using System.Text.RegularExpressions;
using ConsentService.Audit;
using ConsentService.Identity;
using ConsentService.Infrastructure;
using ConsentService.Ledger;
using ConsentService.Policies;
using ConsentService.Sites;
using ConsentService.Snippet;
using ConsentService.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace ConsentService.Consents;

public static partial class ConsentEndpoints
{
    /// <summary>A consent body is small; anything bigger is not a decision.</summary>
    public const int MaxBodyBytes = 16 * 1024;
    private const string IdempotencyHeader = "Idempotency-Key";

    public static IEndpointRouteBuilder MapConsentEndpoints(this IEndpointRouteBuilder routes)
    {
        var site = routes.MapGroup("/v1/sites/{siteId}").WithTags("Consents");

        site.MapPost("/consents", Record)
            .WithName("RecordConsent")
            .WithSummary("Record a visitor's decision")
            .WithDescription("Public (no secret): takes application/json or text/plain JSON. Without a key, subjectId is absent or a random 'sub_' id, " +
                "and subjectSecret is the subject's write secret: the first write stores its hash, later anonymous writes for the subject " +
                "must send the same (403 otherwise, nothing written). Without subjectId and subjectSecret the service mints both and answers " +
                "the secret once (subjectSecret in the 201). " +
                "A site back end with an admin key may write its own user ids and method 'api'. Honours the Idempotency-Key header " +
                "(or the idempotencyKey body field, for browsers posting without a preflight), scoped to the caller: the write secret, or the API key. " +
                "Browsers: only pages of the site's allowed origins (or the service's own) may post (403 otherwise) and read the answer.")
            .Accepts<RecordConsentRequest>("application/json", "text/plain")
            .WithMetadata(new BodySizeLimit(MaxBodyBytes))
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .WithSnippetCors();

        site.MapGet("/subjects/{subjectId}/consent", Check)
            .WithName("CheckConsent")
            .WithSummary("Current consent of a subject, or of one purpose with ?purpose=")
            .RequireSiteRole(SiteRole.Check)
            .WithDescription("Requires a site key with role 'check' or higher. Answered from the instance's cache: a write is seen at once " +
                "by the instance that made it, and by every other instance behind the same Redis within 50 ms (p99). " +
                "Send 'Cache-Control: no-cache' to read through to the store.")
            // Not audited: the per-page-view hot path, and it answers nothing personal beyond the id the caller sent.
            .WithoutAudit()
            // Route and query strings only, checked by the handler: no filter walks its parameters on every check.
            .DisableValidation();

        site.MapGet("/subjects/{subjectId}/history", History)
            .WithName("GetSubjectHistory")
            .WithSummary("Every record of a subject, oldest first")
            .RequireSiteRole(SiteRole.Legal);

        return routes;
    }

    private static async Task<Results<Created<ConsentRecordView>, ValidationProblem, ProblemHttpResult>> Record(
        string siteId, HttpContext http, SiteDirectory sites, PolicyCatalog policies, ConsentLedger ledger,
        KeyAuthenticator keys, ProofSigner signer, SubjectTokens subjectTokens, ReceiptIssuer receipts, CancellationToken ct)
    {
        var site = await sites.GetAsync(siteId, ct);
        if (site is null)
        {
            return Problems.SiteNotFound(siteId);
        }
        var trusted = false;
        string? keyScope = null;
        if (KeyAuthenticator.BearerToken(http.Request) is not null)
        {
            var denied = await keys.AuthorizeAsync(http.Request, siteId, SiteRole.Admin, ct);
            if (denied is not null) return denied;
            trusted = true;
            keyScope = SubjectSecrets.KeyScope(http.Features.Get<AuthenticatedKey>()?.KeyId);
        }

        var (request, unreadable) = await JsonBody.ReadAsync<RecordConsentRequest>(http.Request, MaxBodyBytes, ct);
        if (request is null)
        {
            return unreadable!;
        }

        var errors = new ValidationErrors();
        var idempotencyKey = http.Request.Headers[IdempotencyHeader].ToString() is { Length: > 0 } header ? header : null;
        if (idempotencyKey is not null && !IdempotencyKey().IsMatch(idempotencyKey))
        {
            errors.Add(IdempotencyHeader, "1 to 255 visible ASCII characters.");
        }
        if (request.IdempotencyKey is { } bodyKey)
        {
            if (!IdempotencyKey().IsMatch(bodyKey))
            {
                errors.Add("idempotencyKey", "1 to 255 visible ASCII characters.");
            }
            else if (idempotencyKey is not null && idempotencyKey != bodyKey)
            {
                errors.Add("idempotencyKey", $"Differs from the {IdempotencyHeader} header; send one of them, or the same value in both.");
            }
            idempotencyKey ??= bodyKey;
        }
        var policy = await policies.GetAsync(siteId, request.PolicyVersion, ct);
        if (policy is null)
        {
            errors.Add("policyVersion", $"Site '{siteId}' has no policy version {request.PolicyVersion}.");
        }
        // Who is writing (DESIGN §3): a back end by its key; a signed-in visitor by the subject token the site's
        // back end minted (the decision is the user's); an anonymous client by the subject's write secret.
        string? userId = null;
        if (!trusted && request.SubjectToken is { } subjectToken)
        {
            var verdict = await subjectTokens.ValidateAsync(siteId, subjectToken, ct);
            userId = verdict.UserId;
            if (verdict.Error is { } refused) errors.Add("subjectToken", refused);
        }
        string? mintedSecret = null;
        byte[]? secretHash = null;
        if (!trusted && userId is not null)
        {
            keyScope = "user:" + Secrets.Sha256Hex(userId);
        }
        else if (!trusted)
        {
            if (request.SubjectSecret is { } secret && !SubjectSecrets.IsWellFormed(secret))
            {
                errors.Add("subjectSecret", SubjectSecrets.Rule);
            }
            else if (request.SubjectSecret is null && request.SubjectId is null)
            {
                if (idempotencyKey is not null)
                {
                    errors.Add("subjectSecret", "An idempotency key is scoped to its caller: send subjectSecret with it (or subjectId and subjectSecret), so that a retry can be recognised as yours.");
                }
                mintedSecret = SubjectSecrets.New();
            }
            secretHash = (request.SubjectSecret ?? mintedSecret) is { } presented ? SubjectSecrets.Hash(presented) : null;
        }
        var scopedKey = idempotencyKey is null ? null
            : SubjectSecrets.ScopedIdempotencyKey(keyScope ?? (secretHash is null ? "" : SubjectSecrets.AnonymousScope(secretHash)), idempotencyKey);
        var decision = Validate(request with { SubjectId = userId ?? request.SubjectId }, site, policy, trusted || userId is not null, scopedKey, http, errors);
        if (decision is null || !errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        if (!trusted && userId is null && secretHash is null)
        {
            // A subject id without its secret: the same answer as a wrong secret, whether or not the id exists.
            return Problems.SubjectSecretRefused();
        }

        // Before the write: an instance that may not sign (another key is active) writes nothing and answers 503.
        await signer.EnsureMaySignAsync(ct);
        AppendResult appended;
        try
        {
            appended = await ledger.RecordAsync(siteId, decision with { WriteSecretHash = secretHash }, ct);
        }
        catch (SubjectSecretMismatchException)
        {
            return Problems.SubjectSecretRefused();
        }
        var (record, created) = (appended.Record, appended.Created);
        if (!created && record.RequestHash != decision.RequestHash)
        {
            return Problems.Status(StatusCodes.Status422UnprocessableEntity, ProblemTypes.IdempotencyConflict,
                "Idempotency key reused.", $"The {IdempotencyHeader} was already used for a different request on this site.");
        }
        if (!created)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }
        return TypedResults.Created($"/v1/sites/{siteId}/consents/{record.Id}",
            ConsentRecordView.From(record) with
            {
                // One signature for the whole commit batch (the first request of the batch to get here makes it).
                Receipt = receipts.Issue(record, appended.Batch),
                // Shown once, as an API key is: only the client that made this request can change this subject's consent later.
                SubjectSecret = created ? mintedSecret : null,
            });
    }

    /// <summary>Checks a decision against its policy version; null (with <paramref name="errors"/>) when it is not acceptable.</summary>
    private static ConsentDecision? Validate(
        RecordConsentRequest request, Site site, Policy? policy, bool trusted, string? idempotencyKey, HttpContext http, ValidationErrors errors)
    {
        var subjectId = request.SubjectId ?? SubjectIds.New();
        if (trusted ? !SubjectIds.IsValid(subjectId) : !SubjectIds.IsRandom(subjectId))
        {
            errors.Add("subjectId", trusted
                ? SubjectIds.Rule
                : "Without a secret key, subjectId is omitted or 'sub_' followed by 22 random base64url characters (crypto.getRandomValues).");
        }
        if (request.Method == ConsentMethod.Api && (!trusted || request.SubjectToken is not null))
        {
            errors.Add("method", "'api' is for the site's back end, with a secret key.");
        }

        var url = request.Source?.Url is { } rawUrl ? SourceMinimizer.PageUrl(rawUrl) : null;
        if (request.Source?.Url is { } given && (given.Length > 2048 || url is null))
        {
            errors.Add("source.url", "An absolute http(s) URL of at most 2048 characters.");
        }
        if (request.Source?.Locale is { } locale && !SiteRules.IsLocale(locale))
        {
            errors.Add("source.locale", "A BCP 47 tag such as 'en' or 'pt-BR'.");
        }
        if (policy is null)
        {
            return null;
        }

        var purposes = ResolvePurposes(request, policy, errors);
        var source = new ConsentSource(
            url,
            request.Source?.Locale,
            JsonDefaults.Name(site.JurisdictionMode),
            SourceMinimizer.UserAgent(http.Request.Headers.UserAgent.ToString()),
            SourceMinimizer.IpPrefix(http.Connection.RemoteIpAddress));
        // The key names the request, it is not part of it: header or body field, a retry is the same request.
        // Nor is the secret: it proves who asks, and no hash of it belongs beside the record.
        var requestHash = CanonicalJson.Sha256Hex(JsonSerializer.SerializeToNode(request with { IdempotencyKey = null, SubjectSecret = null, SubjectToken = null }, JsonDefaults.Options));
        return new ConsentDecision(subjectId, policy, purposes, request.Method, source, idempotencyKey, requestHash);
    }

    /// <summary>
    /// Every purpose of the version gets a value: required ones true; the rest as sent, or as the
    /// method implies (accept_all → granted; reject_all, withdraw, gpc, custom → refused) when omitted.
    /// A value contradicting the method is an error, not something to fix silently.
    /// </summary>
    private static Dictionary<string, bool> ResolvePurposes(RecordConsentRequest request, Policy policy, ValidationErrors errors)
    {
        var sent = request.Purposes ?? new Dictionary<string, bool>();
        foreach (var unknown in sent.Keys.Where(id => policy.Content.Purposes.All(p => p.Id != id)))
        {
            errors.Add($"purposes.{unknown}", $"Policy version {policy.Version} has no purpose '{unknown}'.");
        }
        var resolved = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var purpose in policy.Content.Purposes)
        {
            var hasValue = sent.TryGetValue(purpose.Id, out var value);
            if (purpose.Required)
            {
                if (hasValue && !value)
                {
                    errors.Add($"purposes.{purpose.Id}", $"'{purpose.Id}' is required by the policy and cannot be refused.");
                }
                resolved[purpose.Id] = true;
                continue;
            }
            var implied = request.Method == ConsentMethod.AcceptAll;
            var fixedByMethod = request.Method is ConsentMethod.AcceptAll or ConsentMethod.RejectAll or ConsentMethod.Withdraw
                || (request.Method == ConsentMethod.Gpc && purpose.Id == "marketing");
            if (hasValue && fixedByMethod && value != implied)
            {
                errors.Add($"purposes.{purpose.Id}", $"Method '{JsonDefaults.Name(request.Method)}' means '{purpose.Id}' is {(implied ? "granted" : "refused")}.");
            }
            resolved[purpose.Id] = hasValue ? value : implied;
        }
        return resolved;
    }

    // Ok<ConsentState> and Ok<PurposeCheck> describe the answer (OpenAPI); it is sent as Utf8JsonResult, bytes kept by CheckAnswers.
    private static async Task<Results<Ok<ConsentState>, Ok<PurposeCheck>, Utf8JsonResult, ValidationProblem, ProblemHttpResult>> Check(
        string siteId, string subjectId, string? purpose, HttpContext http, SiteDirectory sites, PolicyCatalog policies, ConsentLedger ledger,
        CheckAnswers answers, TimeProvider time, CancellationToken ct)
    {
        if (!SubjectIds.IsValid(subjectId))
        {
            return Problems.Validation("subjectId", SubjectIds.Rule);
        }
        // Three independent reads, sent together: on Redis one round trip instead of three (this is the per-page-view path).
        // A caller that must not be answered from a cache (it cannot wait for other instances to hear of a write) says so.
        var readThrough = ReadsThrough(http.Request);
        var (siteRead, policiesRead, currentRead) = readThrough
            ? (sites.ReadThroughAsync(siteId, ct), policies.ListReadThroughAsync(siteId, ct), ledger.CurrentReadThroughAsync(siteId, subjectId, ct))
            : (sites.GetAsync(siteId, ct), policies.ListAsync(siteId, ct), ledger.CurrentAsync(siteId, subjectId, ct));
        if (!(siteRead.IsCompletedSuccessfully && policiesRead.IsCompletedSuccessfully && currentRead.IsCompletedSuccessfully))
        {
            await Task.WhenAll(siteRead, policiesRead, currentRead); // from memory all three are done already: nothing to wait on
        }
        if (await siteRead is not { } site)
        {
            return Problems.SiteNotFound(siteId);
        }
        var (versions, current, now) = (await policiesRead, await currentRead, time.Now());
        // A read through answers from what it read, and leaves no answer behind for the cached objects.
        if (!readThrough && answers.Find(current, site, versions, purpose, now) is { } kept)
        {
            return new Utf8JsonResult(kept);
        }
        var state = ledger.Evaluate(site, versions, subjectId, current);
        var keepBy = readThrough ? null : current;
        if (purpose is null)
        {
            return new Utf8JsonResult(answers.Keep(keepBy, site, versions, purpose, now, state));
        }
        return state.Purposes.TryGetValue(purpose, out var one)
            ? new Utf8JsonResult(answers.Keep(keepBy, site, versions, purpose, now, new PurposeCheck(purpose, one.Granted, state.NeedsReconsent)))
            : Problems.Validation("purpose", $"The current policy has no purpose '{purpose}'.");
    }

    /// <summary><c>Cache-Control: no-cache</c> (RFC 9111 §5.2.1.4): answer from the store, not from a cached copy.</summary>
    private static bool ReadsThrough(HttpRequest request) =>
        request.Headers.CacheControl is { Count: > 0 } values
        && CacheControlHeaderValue.TryParse(values.ToString(), out var directives) && directives.NoCache;

    private static async Task<Results<Ok<SubjectHistory>, ValidationProblem, ProblemHttpResult>> History(
        string siteId, string subjectId, HttpContext http, ConsentLedger ledger, IConsentStore store, CancellationToken ct)
    {
        if (!SubjectIds.IsValid(subjectId))
        {
            return Problems.Validation("subjectId", SubjectIds.Rule);
        }
        var records = await ledger.HistoryAsync(siteId, subjectId, ct);
        // A user id's anonymous histories (Identity): each stays its own chain, shown beside the user's.
        var linked = new List<LinkedHistory>();
        foreach (var link in await store.ListLinkedSubjectsAsync(siteId, subjectId, ct))
        {
            linked.Add(new LinkedHistory(link.SubjectId, link.LinkedAt, [.. (await ledger.HistoryAsync(siteId, link.SubjectId, ct)).Select(ConsentRecordView.From)]));
        }
        if (records.Count > 0) http.ReportAuditSubject(records[0].SubjectCommitment);
        return records.Count == 0 && linked.Count == 0
            ? Problems.NotFound($"No consent is recorded for subject '{subjectId}'.")
            : TypedResults.Ok(new SubjectHistory(subjectId, records.Select(ConsentRecordView.From).ToList(), linked.Count > 0 ? linked : null));
    }

    [GeneratedRegex("^[\\x21-\\x7E]{1,255}\\z")]
    private static partial Regex IdempotencyKey();
}
