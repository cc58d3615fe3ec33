using System.Net.Http.Headers;
using ConsentService.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ConsentService.Tests.Infrastructure;

/// <summary>
/// The real app on its own SQLite file in a temporary folder, with a fake clock. A factory made with
/// <see cref="SharesDatabaseWith"/> is a second instance of the same deployment.
/// </summary>
public sealed class ConsentApiFactory : WebApplicationFactory<Program>
{
    public const string OperatorKey = "cso_test-operator-key-0123456789abcdef";

    private readonly string _dataDirectory = NewDataDirectory();

    public string DataDirectory
    {
        get => SharesDatabaseWith?.DataDirectory ?? _dataDirectory;
        init => _dataDirectory = value;
    }

    /// <summary>
    /// Another instance of one deployment: this one works on that one's database — the stores it opened,
    /// as instances share one MongoDB — and reads the same data folder (the signing key), with a cache,
    /// clock, rate limits and jobs of its own. It never opens the SQLite files a second time: the service
    /// refuses a second writer on a data folder, in another process or in the same one.
    /// </summary>
    public ConsentApiFactory? SharesDatabaseWith { get; init; }

    /// <summary>Also receives everything the app logs, e.g. to check what a log line says or does not say.</summary>
    public ILoggerProvider? Logs { get; init; }

    /// <summary>Leave the data folder when disposed: the next instance of the deployment starts on it.</summary>
    public bool KeepDataDirectory { get; init; }

    /// <summary>More configuration, e.g. <c>ConnectionStrings:Redis</c>.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Takes the client address from the <see cref="ClientAddressHeader"/> request header: the test server
    /// has no network peer, and rate limits are counted per address.
    /// </summary>
    public bool ClientAddressFromHeader { get; init; }

    public const string ClientAddressHeader = "X-Test-Client-Address";

    public static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "consent-tests", Guid.NewGuid().ToString("N"));

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero));

    public string DatabasePath => Path.Combine(DataDirectory, "consent.db");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Admin:ApiKey", OperatorKey);
        builder.UseSetting("Storage:DataDirectory", DataDirectory);
        builder.UseSetting("Demo:Seed", "false");
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }
        if (Logs is not null)
        {
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        }
        builder.ConfigureServices(services =>
        {
            services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Time));
            if (SharesDatabaseWith is { } first)
            {
                // Instances, not factories: the first app keeps owning (and disposing) them.
                services.Replace(ServiceDescriptor.Singleton(first.Services.GetRequiredService<IConsentStore>()));
                services.Replace(ServiceDescriptor.Singleton(first.Services.GetRequiredService<IAuditStore>()));
                services.Replace(ServiceDescriptor.Singleton(first.Services.GetRequiredService<ISessionStore>()));
            }
            if (ClientAddressFromHeader) services.AddSingleton<IStartupFilter, ClientAddressFromHeaderFilter>();
        });
    }

    /// <summary>A client that sends the operator key.</summary>
    public HttpClient OperatorClient() => ClientWithKey(OperatorKey);

    public HttpClient ClientWithKey(string? key)
    {
        var client = CreateClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    /// <summary>Reads the database file directly, to prove what a request did or did not write.</summary>
    public async Task<long> CountRowsAsync(string table, string? siteId = null)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = siteId is null
            ? $"SELECT count(*) FROM {table}"
            : $"SELECT count(*) FROM {table} WHERE {(table == "sites" ? "id" : "site_id")} = $site";
        command.Parameters.AddWithValue("$site", siteId ?? "");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Writes to the database behind the service's back: how tests tamper with the ledger.</summary>
    public async Task<int> ExecuteSqlAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False;Default Timeout=30");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return await command.ExecuteNonQueryAsync();
    }

    private sealed class ClientAddressFromHeaderFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (System.Net.IPAddress.TryParse(context.Request.Headers[ClientAddressHeader].ToString(), out var address))
                {
                    context.Connection.RemoteIpAddress = address;
                }
                return nextMiddleware(context);
            });
            next(app);
        };
    }

    public IConsentStore Store => Services.GetRequiredService<IConsentStore>();

    /// <summary>
    /// The test host runs the app's Main on a thread of its own, and that thread disposes the app (and with it
    /// the data folder's lock) only after this factory's Dispose has returned. A restart on the same folder, or a
    /// test reading the folder's files, waits until the lock is free, as a new process would find it after the
    /// old one exited.
    /// </summary>
    private void WaitForDataFolderRelease()
    {
        var lockFile = Path.Combine(DataDirectory, DataFolder.LockFileName);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (File.Exists(lockFile))
        {
            try
            {
                using var probe = new FileStream(lockFile, FileMode.Open, FileAccess.Read, FileShare.None);
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        try
        {
            base.Dispose(disposing);
        }
        catch (Exception e) when (e is ArgumentNullException or ObjectDisposedException)
        {
            // A host whose start failed (a test of start-up errors) cannot be stopped by the test host; nothing runs.
        }
        if (SharesDatabaseWith is not null) return; // the first instance's folder: it deletes it
        SqliteConnection.ClearAllPools();
        WaitForDataFolderRelease();
        if (KeepDataDirectory) return;
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
