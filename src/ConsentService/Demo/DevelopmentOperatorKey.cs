using ConsentService.Infrastructure;
using ConsentService.Storage;
using Microsoft.Extensions.Options;

namespace ConsentService.Demo;

/// <summary>
/// In Development with no <c>Admin:ApiKey</c>, uses a key generated once and kept in the data
/// folder, so <c>dotnet run</c> works on a fresh clone and the key survives restarts.
/// </summary>
public sealed class DevelopmentOperatorKey(IServiceProvider services, IHostEnvironment environment) : IPostConfigureOptions<AdminOptions>
{
    public void PostConfigure(string? name, AdminOptions options)
    {
        if (!string.IsNullOrEmpty(options.ApiKey) || !environment.IsDevelopment()) return;
        var directory = StorageSetup.DataDirectory(services);
        DataFolder.Create(directory);
        var path = Path.Combine(directory, "operator.key");
        if (!File.Exists(path))
        {
            DataFolder.WritePrivateFile(path, "cso_" + Secrets.Token(32));
        }
        DataFolder.MakePrivate(path); // one an earlier version wrote readable by all
        options.ApiKey = File.ReadAllText(path).Trim();
    }
}
