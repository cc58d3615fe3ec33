// bench/run's "check on two instances": two instances of one ConsentService deployment in this one process,
// each on its own Kestrel port, sharing the first one's stores (as instances share one MongoDB; this machine has
// none, and a SQLite data folder takes one writer) and one Redis, each with its own first level, rate limits and
// jobs. Configuration comes from the environment, as for the service. Runs until SIGTERM or SIGINT.
using System.Runtime.InteropServices;
using ConsentService.Storage;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection.Extensions;

// Not top-level statements: those would declare a second Program beside the service's.
internal static class PairHost
{
    public static async Task<int> Main(string[] args)
    {
        if (args is not [var first, var second] || !int.TryParse(first, out var firstPort) || !int.TryParse(second, out var secondPort))
        {
            Console.Error.WriteLine("usage: Pair FIRST_PORT SECOND_PORT");
            return 2;
        }
        using var one = new Instance(sharesStoresWith: null);
        one.UseKestrel(firstPort);
        one.StartServer();
        using var other = new Instance(sharesStoresWith: one);
        other.UseKestrel(secondPort);
        other.StartServer();
        Console.WriteLine($"two instances: http://127.0.0.1:{firstPort} and http://127.0.0.1:{secondPort}");

        var stop = new TaskCompletionSource();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
        await stop.Task;
        return 0;
    }
}

/// <summary>One instance; the second works on the first one's stores, which the first keeps owning.</summary>
internal sealed class Instance(Instance? sharesStoresWith) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(Environments.Production);
        if (sharesStoresWith is null) return;
        builder.ConfigureServices(services =>
        {
            services.Replace(ServiceDescriptor.Singleton(sharesStoresWith.Services.GetRequiredService<IConsentStore>()));
            services.Replace(ServiceDescriptor.Singleton(sharesStoresWith.Services.GetRequiredService<IAuditStore>()));
            services.Replace(ServiceDescriptor.Singleton(sharesStoresWith.Services.GetRequiredService<ISessionStore>()));
        });
    }
}
