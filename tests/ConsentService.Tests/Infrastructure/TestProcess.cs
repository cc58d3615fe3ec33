using System.Runtime.CompilerServices;

namespace ConsentService.Tests.Infrastructure;

internal static class TestProcess
{
    /// <summary>
    /// This process runs dozens of service instances side by side on two cores, each starting up with
    /// blocking calls (host start, SQLite): with the thread pool's default minimum (one thread per core)
    /// work waits for the pool to add threads, about one a second, and a Redis reply then waits past the
    /// service's 500 ms timeout. A service runs alone in its process; the tests would otherwise measure
    /// their own crowding (StackExchange.Redis's timeout guide gives the same advice for bursty loads).
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), completionPorts);
    }
}
