using System.Security.Cryptography;

namespace ConsentService.Ledger;

/// <summary>
/// The Merkle tree of RFC 9162 §2.1 (Certificate Transparency 2.0) over a site's record hashes in
/// ledger order: leaf hash <c>H(0x00 || leaf)</c>, node hash <c>H(0x01 || left || right)</c>, the
/// left subtree of n leaves holding the largest power of two below n. Internal: ConsentService.Client compiles
/// this file too (linked), so it climbs a receipt's audit path exactly as the service built it.
/// </summary>
internal static class MerkleTree
{
    public static byte[] EmptyRoot { get; } = SHA256.HashData([]);

    public static byte[] LeafHash(ReadOnlySpan<byte> leaf)
    {
        Span<byte> input = stackalloc byte[leaf.Length + 1];
        input[0] = 0x00;
        leaf.CopyTo(input[1..]);
        return SHA256.HashData(input);
    }

    public static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> input = stackalloc byte[1 + left.Length + right.Length];
        input[0] = 0x01;
        left.CopyTo(input[1..]);
        right.CopyTo(input[(1 + left.Length)..]);
        return SHA256.HashData(input);
    }

    /// <summary>MTH(D[n]) over leaf hashes.</summary>
    public static byte[] Root(IReadOnlyList<byte[]> leafHashes) => leafHashes.Count == 0 ? EmptyRoot : Subtree(leafHashes, 0, leafHashes.Count);

    /// <summary>PATH(m, D[n]) (§2.1.3.1): the sibling hashes from leaf <paramref name="index"/> up to the root of the first <paramref name="size"/> leaves.</summary>
    public static List<byte[]> InclusionProof(IReadOnlyList<byte[]> leafHashes, long index, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, size);
        var proof = new List<byte[]>();
        Path((int)index, 0, (int)size);
        return proof;

        void Path(int m, int start, int n)
        {
            if (n == 1) return;
            var k = LargestPowerOfTwoBelow(n);
            if (m < k)
            {
                Path(m, start, k);
                proof.Add(Subtree(leafHashes, start + k, n - k));
            }
            else
            {
                Path(m - k, start + k, n - k);
                proof.Add(Subtree(leafHashes, start, k));
            }
        }
    }

    /// <summary>
    /// Every level of the tree over <paramref name="leafHashes"/>, leaves first, root last: each level hashes
    /// neighbours in pairs and moves an odd last node up as it is. That is the same tree as <see cref="Root"/>
    /// (the left subtree of the largest power of two), built in O(n), so that every leaf's audit path is read
    /// off in O(log n) (<see cref="PathFrom"/>) instead of recomputed per leaf.
    /// </summary>
    public static IReadOnlyList<byte[][]> Levels(IReadOnlyList<byte[]> leafHashes)
    {
        ArgumentOutOfRangeException.ThrowIfZero(leafHashes.Count);
        var levels = new List<byte[][]> { leafHashes.ToArray() };
        while (levels[^1].Length > 1)
        {
            var below = levels[^1];
            var level = new byte[(below.Length + 1) / 2][];
            for (var i = 0; i < level.Length; i++)
            {
                level[i] = 2 * i + 1 < below.Length ? NodeHash(below[2 * i], below[2 * i + 1]) : below[2 * i];
            }
            levels.Add(level);
        }
        return levels;
    }

    /// <summary>PATH(m, D[n]) from the <see cref="Levels"/> of the tree: the same hashes as <see cref="InclusionProof"/>.</summary>
    public static List<byte[]> PathFrom(IReadOnlyList<byte[][]> levels, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, levels[0].Length);
        var proof = new List<byte[]>();
        for (var level = 0; level < levels.Count - 1; level++, index >>= 1)
        {
            var sibling = index ^ 1;
            if (sibling < levels[level].Length) proof.Add(levels[level][sibling]); // else: a node moved up, no hash at this level
        }
        return proof;
    }

    /// <summary>Verifies an inclusion proof with the algorithm of §2.1.3.2.</summary>
    public static bool VerifyInclusion(long index, long size, byte[] leafHash, IReadOnlyList<byte[]> proof, byte[] root)
    {
        if (index < 0 || index >= size) return false;
        long fn = index, sn = size - 1;
        var r = leafHash;
        foreach (var p in proof)
        {
            if (sn == 0) return false;
            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = NodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r.AsSpan().SequenceEqual(root);
    }

    /// <summary>PROOF(m, D[n]) (§2.1.4.1): shows the tree of the first <paramref name="first"/> leaves is a prefix of the tree of <paramref name="second"/>.</summary>
    public static List<byte[]> ConsistencyProof(IReadOnlyList<byte[]> leafHashes, long first, long second)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(first, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, second);
        var proof = new List<byte[]>();
        SubProof((int)first, 0, (int)second, true);
        return proof;

        void SubProof(int m, int start, int n, bool whole)
        {
            if (m == n)
            {
                if (!whole) proof.Add(Subtree(leafHashes, start, n));
                return;
            }
            var k = LargestPowerOfTwoBelow(n);
            if (m <= k)
            {
                SubProof(m, start, k, whole);
                proof.Add(Subtree(leafHashes, start + k, n - k));
            }
            else
            {
                SubProof(m - k, start + k, n - k, false);
                proof.Add(Subtree(leafHashes, start, k));
            }
        }
    }

    /// <summary>Verifies a consistency proof with the algorithm of §2.1.4.2.</summary>
    public static bool VerifyConsistency(long first, long second, byte[] firstRoot, byte[] secondRoot, IReadOnlyList<byte[]> proof)
    {
        if (first < 1 || first > second) return false;
        if (first == second) return proof.Count == 0 && firstRoot.AsSpan().SequenceEqual(secondRoot);
        if (proof.Count == 0) return false;
        var path = new List<byte[]>(proof);
        if ((first & (first - 1)) == 0) path.Insert(0, firstRoot); // a power of two: the first root is a node of the proof
        long fn = first - 1, sn = second - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }
        byte[] fr = path[0], sr = path[0];
        foreach (var c in path.Skip(1))
        {
            if (sn == 0) return false;
            if ((fn & 1) == 1 || fn == sn)
            {
                fr = NodeHash(c, fr);
                sr = NodeHash(c, sr);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                sr = NodeHash(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr.AsSpan().SequenceEqual(firstRoot) && sr.AsSpan().SequenceEqual(secondRoot);
    }

    private static byte[] Subtree(IReadOnlyList<byte[]> leafHashes, int start, int n)
    {
        if (n == 1) return leafHashes[start];
        var k = LargestPowerOfTwoBelow(n);
        return NodeHash(Subtree(leafHashes, start, k), Subtree(leafHashes, start + k, n - k));
    }

    private static int LargestPowerOfTwoBelow(int n) => 1 << (31 - int.LeadingZeroCount(n - 1));

    /// <summary>
    /// Roots as leaves arrive, without keeping the leaves: a stack of the perfect subtrees so far
    /// (one per set bit of the size). Verification uses it to check every checkpoint in one pass.
    /// </summary>
    public sealed class Accumulator
    {
        private readonly List<(long Size, byte[] Hash)> _subtrees = [];

        public long Size { get; private set; }

        public void Append(byte[] leafHash)
        {
            var node = (Size: 1L, Hash: leafHash);
            while (_subtrees.Count > 0 && _subtrees[^1].Size == node.Size)
            {
                node = (node.Size * 2, NodeHash(_subtrees[^1].Hash, node.Hash));
                _subtrees.RemoveAt(_subtrees.Count - 1);
            }
            _subtrees.Add(node);
            Size++;
        }

        /// <summary>The root of the leaves so far: the subtrees folded from the right.</summary>
        public byte[] Root()
        {
            if (_subtrees.Count == 0) return EmptyRoot;
            var root = _subtrees[^1].Hash;
            for (var i = _subtrees.Count - 2; i >= 0; i--)
            {
                root = NodeHash(_subtrees[i].Hash, root);
            }
            return root;
        }
    }
}
