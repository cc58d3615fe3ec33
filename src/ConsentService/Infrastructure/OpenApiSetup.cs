using Microsoft.OpenApi;

namespace ConsentService.Infrastructure;

public static class OpenApiSetup
{
    private const string BearerScheme = "bearer";

    /// <summary>True while the build's GetDocument tool runs the app only to write openapi/v1.json.</summary>
    public static bool IsGeneratingDocument =>
        System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name == "GetDocument.Insider";

    public static IServiceCollection AddConsentOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "ConsentService API",
                    Version = "v1",
                    Description = "Versioned, append-only consent records with verifiable proof. " +
                        "Errors are RFC 9457 problem details; secret endpoints take 'Authorization: Bearer <key>'.",
                };
                // The document is the same wherever it is served from; committed copies must not depend on the host.
                document.Servers = [];
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "A site API key (csk_…) or the operator key.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<SecuredEndpoint>().Any())
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement
                    {
                        [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [],
                    });
                }
                return Task.CompletedTask;
            });
        });
}
