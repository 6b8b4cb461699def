using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

/// <summary>
/// A set of Unicode scalar values as sorted, disjoint, inclusive ranges, and its encoding as
/// UTF-8 byte-range sequences in an NFA. Surrogates (U+D800..U+DFFF) are never members: they
/// cannot appear in well-formed UTF-8.
/// </summary>
internal sealed class CodePointSet
{
    public const int MaxCodePoint = 0x10FFFF;

    private readonly List<(int Lo, int Hi)> _ranges;

    private CodePointSet(List<(int Lo, int Hi)> ranges) => _ranges = ranges;

    public IReadOnlyList<(int Lo, int Hi)> Ranges => _ranges;

    public static CodePointSet Of(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var sorted = ranges.Where(r => r.Lo <= r.Hi).OrderBy(r => r.Lo).ToList();
        var merged = new List<(int Lo, int Hi)>();
        foreach (var r in sorted)
        {
            if (merged.Count > 0 && r.Lo <= merged[^1].Hi + 1)
            {
                merged[^1] = (merged[^1].Lo, Math.Max(merged[^1].Hi, r.Hi));
            }
            else
            {
                merged.Add(r);
            }
        }

        // Cut the surrogate block out.
        var result = new List<(int Lo, int Hi)>();
        foreach (var (lo, hi) in merged)
        {
            if (hi < 0xD800 || lo > 0xDFFF)
            {
                result.Add((lo, hi));
                continue;
            }

            if (lo < 0xD800)
            {
                result.Add((lo, 0xD7FF));
            }

            if (hi > 0xDFFF)
            {
                result.Add((0xE000, hi));
            }
        }

        return new CodePointSet(result);
    }

    public static CodePointSet Single(int cp) => Of([(cp, cp)]);

    public static CodePointSet All => Of([(0, MaxCodePoint)]);

    public CodePointSet Union(CodePointSet other) => Of(_ranges.Concat(other._ranges));

    public CodePointSet Complement()
    {
        var result = new List<(int, int)>();
        var next = 0;
        foreach (var (lo, hi) in _ranges)
        {
            if (lo > next)
            {
                result.Add((next, lo - 1));
            }

            next = hi + 1;
        }

        if (next <= MaxCodePoint)
        {
            result.Add((next, MaxCodePoint));
        }

        return Of(result);
    }

    public bool Contains(int cp) => _ranges.Any(r => r.Lo <= cp && cp <= r.Hi);

    /// <summary>Adds paths from <paramref name="from"/> to <paramref name="to"/> reading one member in UTF-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddTo(ByteNfa nfa, int from, int to)
    {
        foreach (var (lo, hi) in _ranges)
        {
            // Split by encoded length: 1, 2, 3 and 4 bytes.
            Split(nfa, from, to, lo, Math.Min(hi, 0x7F));
            Split(nfa, from, to, Math.Max(lo, 0x80), Math.Min(hi, 0x7FF));
            Split(nfa, from, to, Math.Max(lo, 0x800), Math.Min(hi, 0xFFFF));
            Split(nfa, from, to, Math.Max(lo, 0x10000), hi);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Split(ByteNfa nfa, int from, int to, int lo, int hi)
    {
        if (lo > hi)
        {
            return;
        }

        var length = lo <= 0x7F ? 1 : lo <= 0x7FF ? 2 : lo <= 0xFFFF ? 3 : 4;

        // A range is a product of per-byte ranges only when, for every continuation byte, the
        // lower bound's trailing bits are all 0 and the upper bound's all 1 wherever a more
        // significant byte differs. Split until that holds.
        for (var i = 1; i < length; i++)
        {
            var mask = (1 << (6 * i)) - 1;
            if ((lo & ~mask) != (hi & ~mask))
            {
                if ((lo & mask) != 0)
                {
                    Split(nfa, from, to, lo, lo | mask);
                    Split(nfa, from, to, (lo | mask) + 1, hi);
                    return;
                }

                if ((hi & mask) != mask)
                {
                    Split(nfa, from, to, lo, (hi & ~mask) - 1);
                    Split(nfa, from, to, hi & ~mask, hi);
                    return;
                }
            }
        }

        Span<byte> a = stackalloc byte[4];
        Span<byte> b = stackalloc byte[4];
        Encode(lo, a);
        Encode(hi, b);
        var state = from;
        for (var k = 0; k < length; k++)
        {
            var target = k == length - 1 ? to : nfa.AddState();
            nfa.AddBytes(state, a[k], b[k], target);
            state = target;
        }
    }

    private static void Encode(int cp, Span<byte> dst)
    {
        if (cp <= 0x7F)
        {
            dst[0] = (byte)cp;
        }
        else if (cp <= 0x7FF)
        {
            dst[0] = (byte)(0xC0 | (cp >> 6));
            dst[1] = (byte)(0x80 | (cp & 0x3F));
        }
        else if (cp <= 0xFFFF)
        {
            dst[0] = (byte)(0xE0 | (cp >> 12));
            dst[1] = (byte)(0x80 | ((cp >> 6) & 0x3F));
            dst[2] = (byte)(0x80 | (cp & 0x3F));
        }
        else
        {
            dst[0] = (byte)(0xF0 | (cp >> 18));
            dst[1] = (byte)(0x80 | ((cp >> 12) & 0x3F));
            dst[2] = (byte)(0x80 | ((cp >> 6) & 0x3F));
            dst[3] = (byte)(0x80 | (cp & 0x3F));
        }
    }
}
