using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ConsentService.Consents;
using ConsentService.Tests.Durability;
using ConsentService.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static ConsentService.Tests.Infrastructure.Api;

namespace ConsentService.Tests.Operations;

/// <summary>
/// One writer per SQLite data folder, and a start that fails says which file and what to do: through the
/// real service process, as an operator starts it. Unix only: file modes, flock(1) and mounts.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataFolderTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(90);
    private readonly string _root = Directory.CreateTempSubdirectory("consent-datafolder-").FullName;

    private string Data => Path.Combine(_root, "data");

    [Fact]
    public async Task A_second_process_on_the_same_data_folder_refuses_to_start_and_the_first_keeps_serving()
    {
        await using var first = await ServiceProcess.StartAsync(Data);
        var siteId = await CreateSiteAsync(first.Address);

        var (exitCode, output) = await ServiceProcess.RunUntilExitAsync(Data, ExitTimeout);

        Assert.Equal(1, exitCode);
        Assert.Contains($"ConsentService cannot start: another ConsentService process holds the data folder {Data} ", output);
        Assert.Contains("Run one instance per data folder, or share MongoDB and Redis between instances (ConnectionStrings:Mongo and ConnectionStrings:Redis)", output);
        Assert.DoesNotContain("Unhandled exception", output);

        // The lock is the operating system's: another program sees it (flock(1), as .NET takes it).
        Assert.Equal(1, Run("flock", "--nonblock", "--conflict-exit-code", "1", Path.Combine(Data, ".lock"), "true"));

        // The first never noticed: it still records and answers.
        using var visitor = new HttpClient { BaseAddress = first.Address };
        using var posted = await visitor.PostAsync($"/v1/sites/{siteId}/consents", Decision(SubjectIds.New()));
        Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
        using var ready = await visitor.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        // SIGKILL runs no shutdown code, yet the lock goes with the process: the folder is free at once.
        await first.KillAsync();
        await using var next = await ServiceProcess.StartAsync(Data);
        using var after = new HttpClient { BaseAddress = next.Address };
        Assert.Equal(HttpStatusCode.OK, (await after.GetAsync($"/v1/sites/{siteId}/config")).StatusCode);
    }

    [Fact]
    public async Task A_second_app_in_the_same_process_on_the_same_data_folder_is_refused_too()
    {
        using var first = new ConsentApiFactory();
        await first.CreateSiteAsync();
        // Not disposed: WebApplicationFactory throws disposing a host that never started, and its Dispose would
        // delete the first one's folder. Tried again only when the harness lost the start's exception: its
        // DeferredHost asks the host for a service after the failed start may have disposed it (seen under load),
        // and then throws ObjectDisposedException instead of what the app said.
        Exception? error = null;
        for (var attempt = 0; attempt < 3 && (attempt == 0 || error is ObjectDisposedException); attempt++)
        {
            error = Record.Exception(() => new ConsentApiFactory { DataDirectory = first.DataDirectory }.CreateClient());
        }

        Assert.NotNull(error);
        Assert.True(error.ToString().Contains($"another ConsentService process holds the data folder {first.DataDirectory} ", StringComparison.Ordinal), error.ToString());
        using var client = first.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task With_file_locking_switched_off_the_service_refuses_to_start_rather_than_run_unguarded()
    {
        var (exitCode, output) = await ServiceProcess.RunUntilExitAsync(Data, ExitTimeout,
            new Dictionary<string, string?> { ["DOTNET_SYSTEM_IO_DISABLEFILELOCKING"] = "1" });

        Assert.True(exitCode == 1, $"exit code {exitCode}:\n{output}");
        Assert.Contains($"ConsentService cannot start: the data folder {Data} cannot be locked: file locking is disabled", output);
    }

    public static TheoryData<string> Unusable => ["a file", "under a file", "garbage consent.db", "garbage audit.db", "an older schema"];

    [Theory]
    [MemberData(nameof(Unusable))]
    public async Task A_data_folder_the_service_cannot_use_stops_the_start_with_one_line_naming_the_path_and_the_fix(string what)
    {
        var (folder, expected) = what switch
        {
            "a file" => Prepared(() => File.WriteAllText(Data, "not a folder"), Data,
                $"the data folder {Data} is a file, not a folder. Move the file away, or set Storage:DataDirectory"),
            "under a file" => Prepared(() => File.WriteAllText(Data, "not a folder"), Path.Combine(Data, "sub"),
                $"the data folder {Path.Combine(Data, "sub")} cannot be created ("),
            "garbage consent.db" => Prepared(() => Garbage("consent.db"), Data,
                $"{Path.Combine(Data, "consent.db")} is not an SQLite database (it does not start with the SQLite header). Restore it from a backup"),
            "garbage audit.db" => Prepared(() => Garbage("audit.db"), Data,
                $"{Path.Combine(Data, "audit.db")} is not an SQLite database"),
            "an older schema" => Prepared(OlderSchema, Data,
                $"{Path.Combine(Data, "consent.db")} has schema version 1, this build needs"),
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        var (exitCode, output) = await ServiceProcess.RunUntilExitAsync(folder, ExitTimeout);

        Assert.True(exitCode == 1, $"exit code {exitCode}:\n{output}");
        Assert.Contains("ConsentService cannot start: " + expected, output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    [SkippableFact]
    public async Task A_read_only_data_folder_stops_the_start_with_one_line_naming_it()
    {
        using var mount = TmpfsMount.TryMount("size=4m");
        Skip.If(mount is null, TmpfsMount.SkipReason);
        var data = Path.Combine(mount.Path, "data");
        Directory.CreateDirectory(data);
        mount.Remount("ro"); // read-only for root too, unlike a permission bit

        var (exitCode, output) = await ServiceProcess.RunUntilExitAsync(data, ExitTimeout);

        Assert.True(exitCode == 1, $"exit code {exitCode}:\n{output}");
        Assert.Contains($"ConsentService cannot start: the data folder {data} is not writable (", output);
        Assert.Contains("Give this process write access to it, or set Storage:DataDirectory", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    [Fact]
    public async Task Every_file_of_the_data_folder_and_the_development_operator_key_are_readable_by_the_owner_only()
    {
        // Development with no Admin:ApiKey: the service makes data/operator.key and seeds the demo site.
        await using (var service = await ServiceProcess.StartAsync(Data, new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["Admin__ApiKey"] = null,
            ["Demo__Seed"] = "true",
        }))
        {
            using var visitor = new HttpClient { BaseAddress = service.Address };
            for (var i = 0; i < 3; i++)
            {
                using var posted = await visitor.PostAsync("/v1/sites/demo/consents", Decision(SubjectIds.New()));
                Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
            }
            using var op = new HttpClient { BaseAddress = service.Address };
            op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(Path.Combine(Data, "operator.key")).Trim());
            Assert.Equal(HttpStatusCode.OK, (await op.GetAsync("/v1/sites/demo/audit/logs")).StatusCode); // an audit event written

            // While it runs: the WAL and shared-memory files exist beside both databases.
            var files = Directory.GetFiles(Data).Select(Path.GetFileName).Order().ToList();
            Assert.Superset(
                new HashSet<string?> { ".lock", "audit.db", "audit.db-shm", "audit.db-wal", "consent.db", "consent.db-shm", "consent.db-wal", "operator.key", "sessions.db", "sessions.db-shm", "sessions.db-wal", "signing-key.pem" },
                files.ToHashSet());
            AssertPrivate(Data);
        }
    }

    [Fact]
    public async Task Files_an_earlier_version_left_readable_by_others_are_made_private_at_start()
    {
        Directory.CreateDirectory(Data);
        await using (var service = await ServiceProcess.StartAsync(Data)) { }
        foreach (var file in Directory.GetFiles(Data))
        {
            File.SetUnixFileMode(file, File.GetUnixFileMode(file) | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        await using (var service = await ServiceProcess.StartAsync(Data))
        {
            foreach (var file in Directory.GetFiles(Data))
            {
                Assert.True(File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{file}: {File.GetUnixFileMode(file)}");
            }
        }
    }

    private static void AssertPrivate(string folder)
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        foreach (var file in Directory.GetFiles(folder))
        {
            Assert.True(File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite),
                $"{Path.GetFileName(file)} is {Convert.ToString((int)File.GetUnixFileMode(file), 8)}, not 600");
        }
    }

    private (string Folder, string Expected) Prepared(Action prepare, string folder, string expected)
    {
        prepare();
        return (folder, expected);
    }

    private void Garbage(string name)
    {
        Directory.CreateDirectory(Data);
        File.WriteAllBytes(Path.Combine(Data, name), Enumerable.Range(0, 4096).Select(i => (byte)(i * 7 + 3)).ToArray());
    }

    /// <summary>A consent.db as an earlier development build left it: tables, and user_version 1.</summary>
    private void OlderSchema()
    {
        Directory.CreateDirectory(Data);
        using var connection = new SqliteConnection($"Data Source={Path.Combine(Data, "consent.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "CREATE TABLE sites (id TEXT PRIMARY KEY, document TEXT NOT NULL); PRAGMA user_version = 1;";
        command.ExecuteNonQuery();
    }

    private static StringContent Decision(string subject) =>
        new(JsonSerializer.Serialize(new { subjectId = subject, subjectSecret = SecretOf(subject), policyVersion = 1, method = "accept_all" }), Encoding.UTF8, "text/plain");

    private static async Task<string> CreateSiteAsync(Uri address)
    {
        using var op = new HttpClient { BaseAddress = address };
        op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ServiceProcess.OperatorKey);
        var site = await ReadJsonAsync(await op.PostAsJsonAsync("/v1/sites", new { name = "Lock shop", allowedOrigins = new[] { "https://shop.example" } }),
            HttpStatusCode.Created);
        return site["id"]!.GetValue<string>();
    }

    private static int Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        process.WaitForExit();
        return process.ExitCode;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp folder
        }
    }
}
