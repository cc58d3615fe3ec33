using System.Diagnostics;

namespace ConsentService.Tests.Infrastructure;

/// <summary>
/// A small tmpfs mounted for one test: a real disk that fills up, or that is read-only, which no
/// permission bit can fake for a process running as root. Mounting needs root (./test.sh and CI run
/// as root); elsewhere <see cref="TryMount"/> answers null and the test shows as skipped.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    public const string SkipReason = "Mounting a tmpfs needs root (./test.sh and CI run as root).";

    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    /// <param name="options">mount options, e.g. <c>size=4m</c>.</param>
    public static TmpfsMount? TryMount(string options)
    {
        var path = Directory.CreateTempSubdirectory("consent-tmpfs-").FullName;
        if (Run("mount", "-t", "tmpfs", "-o", options, "tmpfs", path) == 0) return new TmpfsMount(path);
        Directory.Delete(path);
        return null;
    }

    /// <summary>Changes the options of the mounted file system in place, e.g. <c>ro</c>.</summary>
    public void Remount(string options) => Assert.Equal(0, Run("mount", "-o", "remount," + options, Path));

    public void Dispose()
    {
        Run("umount", "-l", Path); // lazily: a process that still has a file open there lets go later
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a temp folder left behind is harmless
        }
    }

    private static int Run(string command, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1; // no such command here
        }
    }
}
