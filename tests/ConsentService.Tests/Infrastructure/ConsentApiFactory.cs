using System.Net.Http.Headers;
using ConsentService.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace ConsentService.Tests.Infrastructure;

/// <summary>
/// The real app on its own SQLite file in a temporary folder, with a fake clock. Two factories given
/// the same <see cref="DataDirectory"/> are two instances of one deployment.
/// </summary>
public sealed class ConsentApiFactory : WebApplicationFactory<Program>
{
    public const string OperatorKey = "cso_test-operator-key-0123456789abcdef";

    public string DataDirectory { get; init; } = NewDataDirectory();

    /// <summary>Leaves the data folder behind on dispose, for a restarted instance to open.</summary>
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
        builder.ConfigureServices(services =>
        {
            services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Time));
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

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        SqliteConnection.ClearAllPools();
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
