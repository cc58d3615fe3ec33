using System.Security.Cryptography;

namespace ConsentService.Client;

/// <summary>RFC 9162 §2.1.3.2: the root an audit path leads to from a leaf (leaf hash H(0x00‖data), node hash H(0x01‖left‖right)).</summary>
internal static class MerkleInclusion
{
    public static byte[] LeafHash(byte[] data)
    {
        var input = new byte[data.Length + 1];
        data.CopyTo(input, 1);
        return SHA256.HashData(input);
    }

    /// <summary>The root, or null when the path does not fit a tree of <paramref name="size"/> leaves.</summary>
    public static byte[]? Root(long index, long size, byte[] leafHash, IReadOnlyList<byte[]> path)
    {
        if (index < 0 || index >= size) return null;
        long fn = index, sn = size - 1;
        var r = leafHash;
        foreach (var p in path)
        {
            if (sn == 0) return null;
            if ((fn & 1) == 1 || fn == sn)
            {
                r = Node(p, r);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                r = Node(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 ? r : null;
    }

    private static byte[] Node(byte[] left, byte[] right)
    {
        var input = new byte[1 + left.Length + right.Length];
        input[0] = 0x01;
        left.CopyTo(input, 1);
        right.CopyTo(input, 1 + left.Length);
        return SHA256.HashData(input);
    }
}
