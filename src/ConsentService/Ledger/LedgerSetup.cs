using ConsentService.Infrastructure;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

namespace ConsentService.Ledger;

public static class LedgerSetup
{
    /// <summary>The signing key, checkpoints (and their job, unless only the OpenAPI document is being generated) and verification.</summary>
    public static WebApplicationBuilder AddLedgerProofs(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SigningOptions>().BindConfiguration(SigningOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SigningOptions>, SigningOptionsValidation>();
        services.AddSingleton<SigningKeyRing>();
        services.AddOptions<LedgerOptions>().BindConfiguration(LedgerOptions.Section)
            .Validate(o => o.CheckpointInterval >= TimeSpan.FromSeconds(1), "Ledger:CheckpointInterval must be at least one second.")
            .ValidateOnStart();
        services.AddSingleton(sp => ProofSigner.Load(
            sp.GetRequiredService<IOptions<SigningOptions>>().Value, StorageSetup.DataDirectory(sp), sp.GetRequiredService<ILogger<ProofSigner>>(),
            sp.GetRequiredService<SigningKeyRing>()));
        services.AddHealthChecks().AddCheck<SigningHealthCheck>("signing", tags: ["ready"]);
        services.AddSingleton<Checkpointer>();
        services.AddSingleton<ReceiptIssuer>();
        services.AddSingleton<LedgerVerifier>();
        if (!OpenApiSetup.IsGeneratingDocument)
        {
            services.AddHostedService<SigningKeyRegistration>(); // before the checkpoint job: nothing is signed with an unregistered key
            services.AddHostedService<CheckpointJob>();
        }
        return builder;
    }
}
