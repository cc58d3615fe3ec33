namespace ConsentService.PrivacyConsole;

public static class ConsoleSetup
{
    public static WebApplicationBuilder AddConsole(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ConsoleAssets>();
        return builder;
    }
}
