using ConsentService.Consents;
using ConsentService.Policies;
using ConsentService.Sites;
using Microsoft.AspNetCore.Http.Json;

namespace ConsentService.Infrastructure;

public static class ApiSetup
{
    /// <summary>JSON rules, problem details for every error, validation, options and the feature services.</summary>
    public static WebApplicationBuilder AddConsentApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.Configure<JsonOptions>(o => JsonDefaults.Apply(o.SerializerOptions));
        // Malformed bodies reach ProblemExceptionHandler, which names the field at fault.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = Customize);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddValidation();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = BodySizeLimit.DefaultBytes;
        });

        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SiteDirectory>();
        services.AddSingleton<KeyAuthenticator>();
        services.AddSingleton<PolicyCatalog>();
        services.AddSingleton<ConsentLedger>();
        services.AddSingleton<SubjectCacheKeys>();
        services.AddConsentOpenApi();
        return builder;
    }

    /// <summary>Every problem gets one of our type URIs and the request id to quote in a support ticket.</summary>
    private static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
        {
            problem.Type = ProblemTypes.ForStatus(status);
            if (problem is HttpValidationProblemDetails validation)
            {
                // From AddValidation(): it names fields as C# does ("Purposes[0].Id"); clients see JSON names.
                problem.Type = ProblemTypes.Validation;
                var errors = validation.Errors.ToDictionary(e => JsonFieldPath(e.Key), e => e.Value, StringComparer.Ordinal);
                validation.Errors.Clear();
                foreach (var (field, messages) in errors) validation.Errors[field] = messages;
            }
        }
        problem.Instance ??= context.HttpContext.Request.Path;
        problem.Extensions["requestId"] = context.HttpContext.TraceIdentifier;
    }

    private static string JsonFieldPath(string path) =>
        string.Join('.', path.Split('.').Select(segment => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(segment)));
}
