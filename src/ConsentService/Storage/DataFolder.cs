using System.Text;
using ConsentService.Infrastructure;

namespace ConsentService.Storage;

/// <summary>
/// The SQLite data folder, held by one process at a time. Two processes on one folder would each keep
/// an in-memory cache of the same database: a withdrawal written through one would be answered
/// "granted" by the other, a key revoked on one would still work on the other. So the first process
/// takes an exclusive lock on <c>.lock</c> (an advisory <c>flock</c> on Linux and macOS, a share lock on
/// Windows) for its whole life; the operating system drops it when the process ends, however it ends,
/// so a crash never leaves a stale lock behind. Several instances share MongoDB and Redis instead.
/// What the service creates here is readable by its own user only (folder 0700, files 0600): the
/// databases hold personal data, the other files secrets.
/// </summary>
public sealed class DataFolder : IDisposable
{
    public const string LockFileName = ".lock";

    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly byte[] SqliteHeader = Encoding.ASCII.GetBytes("SQLite format 3\0");

    private readonly FileStream _lock;

    private DataFolder(string path, FileStream lockFile)
    {
        Path = path;
        _lock = lockFile;
    }

    public string Path { get; }

    /// <summary>Creates the folder if needed and locks it, or explains (one line, with the fix) why it cannot.</summary>
    public static DataFolder Lock(string path)
    {
        Create(path);
        var lockPath = System.IO.Path.Combine(path, LockFileName);
        FileStream lockFile;
        try
        {
            // FileShare.None: .NET takes flock(LOCK_EX | LOCK_NB) on Unix, which another process (or another
            // open of the file in this one) cannot take too until this handle closes or the process dies.
            lockFile = new FileStream(lockPath, PrivateFileOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e) when (IsLockedByAnother(e))
        {
            throw new StartupFailureException(
                $"another ConsentService process holds the data folder {path} (its file {LockFileName} is locked). " +
                "Run one instance per data folder, or share MongoDB and Redis between instances (ConnectionStrings:Mongo and ConnectionStrings:Redis).", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupFailureException(
                $"the data folder {path} is not writable ({e.Message}). Give this process write access to it, or set Storage:DataDirectory to a folder it can write.", e);
        }
        var folder = new DataFolder(path, lockFile);
        try
        {
            AssertLockHolds(path, lockPath);
        }
        catch
        {
            folder.Dispose();
            throw;
        }
        foreach (var file in Directory.EnumerateFiles(path))
        {
            MakePrivate(file); // what an earlier version (or a copy) left readable by others: keys, databases
        }
        return folder;
    }

    /// <summary>
    /// A second open must now be refused, as a second process's would be. It is not where locking is off
    /// (<c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c>) or where the file system ignores flock: then the
    /// guarantee does not hold, and starting anyway would bring back the two-caches bug silently.
    /// </summary>
    private static void AssertLockHolds(string path, string lockPath)
    {
        try
        {
            using var second = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (IsLockedByAnother(e))
        {
            return;
        }
        throw new StartupFailureException(
            $"the data folder {path} cannot be locked: file locking is disabled (DOTNET_SYSTEM_IO_DISABLEFILELOCKING) or its file system ignores locks. " +
            "Put the data folder on a local disk with locking enabled, so that no second instance can open it.");
    }

    /// <summary>
    /// The path of a database file in this folder, created empty and private if missing (SQLite gives its
    /// <c>-wal</c> and <c>-shm</c> files the database file's mode), and refused if it is not an SQLite database: better a clear stop than "file is not a database" on the first request.
    /// </summary>
    public string DatabaseFile(string name)
    {
        var path = System.IO.Path.Combine(Path, name);
        try
        {
            // Read and write: a file this process may read but not write is named here, not by SQLite's "readonly database" later.
            using var file = new FileStream(path, PrivateFileOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite));
            var header = new byte[SqliteHeader.Length];
            var read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (read > 0 && (read < header.Length || !header.AsSpan().SequenceEqual(SqliteHeader)))
            {
                throw new StartupFailureException(
                    $"{path} is not an SQLite database (it does not start with the SQLite header). Restore it from a backup, or move it away to start with an empty one.");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupFailureException(
                $"{path} cannot be opened ({e.Message}). Give this process read and write access to it, or set Storage:DataDirectory to a folder it can write.", e);
        }
        return path;
    }

    /// <summary>Creates the folder (0700) if it does not exist, or explains why it cannot.</summary>
    public static void Create(string path)
    {
        if (File.Exists(path))
        {
            throw new StartupFailureException(
                $"the data folder {path} is a file, not a folder. Move the file away, or set Storage:DataDirectory to a folder (it is created if missing).");
        }
        try
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(path);
            }
            else
            {
                Directory.CreateDirectory(path, PrivateFolder);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupFailureException(
                $"the data folder {path} cannot be created ({e.Message}). Set Storage:DataDirectory to a folder this process can create and write.", e);
        }
    }

    /// <summary>Writes a new file that only this user can read (the mode is set as it is created, never after).</summary>
    public static void WritePrivateFile(string path, string content)
    {
        using var file = new FileStream(path, PrivateFileOptions(FileMode.CreateNew, FileAccess.Write, FileShare.None));
        file.Write(Encoding.UTF8.GetBytes(content));
    }

    /// <summary>0600 for an existing file; a file system without Unix modes (or another owner) is left as it is.</summary>
    public static void MakePrivate(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path)) return;
        try
        {
            File.SetUnixFileMode(path, PrivateFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not ours to change; SQLite reports it if it cannot write the file either.
        }
    }

    private static FileStreamOptions PrivateFileOptions(FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateFile;
        }
        return options;
    }

    /// <summary>
    /// .NET reports a lock held elsewhere as a sharing violation: ERROR_SHARING_VIOLATION on Windows, the
    /// errno of flock's refusal (EWOULDBLOCK) on Unix.
    /// </summary>
    private static bool IsLockedByAnother(IOException e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) == 32 : e.HResult == (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 35 : 11);

    public void Dispose() => _lock.Dispose();
}
