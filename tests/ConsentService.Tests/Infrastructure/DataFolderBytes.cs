using System.Security.Cryptography;
using System.Text;

namespace ConsentService.Tests.Infrastructure;

/// <summary>Reads a data folder the way someone with a copy of the disk would.</summary>
public static class DataFolderBytes
{
    /// <summary>
    /// Every file's bytes, read while the service keeps them open. The service's <c>.lock</c> is held with an
    /// exclusive lock that also refuses readers in this process; it holds no bytes at all, which is asserted.
    /// </summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> ReadAll(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(path => (Path.GetRelativePath(directory, path), ReadShared(path)))];

    /// <summary>Whether any file of the folder holds <paramref name="needle"/>.</summary>
    public static bool AnyHolds(string directory, byte[] needle) => ReadAll(directory).Any(f => f.Bytes.AsSpan().IndexOf(needle) >= 0);

    public static void AssertHoldsEach(string directory, IEnumerable<string> needles)
    {
        var files = ReadAll(directory);
        foreach (var needle in needles)
        {
            var bytes = Encoding.UTF8.GetBytes(needle);
            Assert.True(files.Any(f => f.Bytes.AsSpan().IndexOf(bytes) >= 0), $"'{needle}' was never written: the test proves nothing");
        }
    }

    /// <summary>No file contains any needle (UTF-8), and no 32-byte window of any file is the key behind <paramref name="commitment"/>.</summary>
    public static void AssertHoldsNone(string directory, IEnumerable<string> needles, string subjectId, string commitment)
    {
        var found = Find(directory, needles, subjectId, commitment);
        Assert.True(found.Count == 0, string.Join("; ", found));
    }

    /// <summary>Where the needles and the key behind <paramref name="commitment"/> were found.</summary>
    public static List<string> Find(string directory, IEnumerable<string> needles, string subjectId, string commitment)
    {
        var files = ReadAll(directory);
        Assert.Contains(files, f => f.Name == "consent.db");
        var found = (from file in files
                     from needle in needles
                     where file.Bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0
                     select $"'{needle}' in {file.Name}").ToList();

        var target = Convert.FromHexString(commitment);
        var id = Encoding.UTF8.GetBytes(subjectId);
        Span<byte> mac = stackalloc byte[32];
        foreach (var (name, bytes) in files)
        {
            for (var at = 0; at + 32 <= bytes.Length; at++)
            {
                var window = bytes.AsSpan(at, 32);
                if (!window.ContainsAnyExcept((byte)0)) continue; // zeroed space: not a random key
                HMACSHA256.HashData(window, id, mac);
                if (mac.SequenceEqual(target)) found.Add($"the subject's key in {name} at offset {at}: the shredding is undone");
            }
        }
        return found;
    }

    private static byte[] ReadShared(string path)
    {
        if (Path.GetFileName(path) == ".lock")
        {
            Assert.Equal(0, new FileInfo(path).Length);
            return [];
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
