using System.Runtime.CompilerServices;
using System.Text;
using Flywheel.Structured;

namespace Flywheel.Serving.Tools;

/// <summary>
/// How each token of a vocabulary moves a search for a marker (e.g. <c>&lt;tool_call&gt;</c>) through generated text:
/// a KMP automaton whose state is how many marker bytes end the text so far. Per state it also keeps the tokens that
/// complete the marker exactly at their last byte (<see cref="Completes"/>) and those that would complete it and carry
/// bytes past it (<see cref="Overshoots"/>), which a constraint forbids so that a call always starts on a token
/// boundary. Built once per vocabulary and marker (O(vocabulary bytes x marker length)); immutable and thread-safe.
/// </summary>
internal sealed class MarkerTable
{
    private static readonly ConditionalWeakTable<TokenVocabulary, Dictionary<string, MarkerTable>> Tables = new();

    private readonly byte[] _next; // [state * Count + token]: the state after the token (only where it neither completes nor overshoots)

    private MarkerTable(TokenVocabulary vocabulary, byte[] marker)
    {
        if (marker.Length is 0 or > 255)
        {
            throw new ArgumentOutOfRangeException(nameof(marker), "a marker is 1 to 255 bytes");
        }

        Length = marker.Length;
        Count = vocabulary.Count;
        _next = new byte[Length * Count];
        Completes = new uint[Length][];
        Overshoots = new uint[Length][];
        var failure = Failure(marker);
        for (var state = 0; state < Length; state++)
        {
            Completes[state] = new uint[vocabulary.MaskLength];
            Overshoots[state] = new uint[vocabulary.MaskLength];
            for (var token = 0; token < Count; token++)
            {
                var bytes = vocabulary.BytesOf(token);
                var s = state;
                for (var i = 0; i < bytes.Length; i++)
                {
                    while (s > 0 && marker[s] != bytes[i])
                    {
                        s = failure[s - 1];
                    }

                    if (marker[s] == bytes[i])
                    {
                        s++;
                    }

                    if (s == Length)
                    {
                        var set = i == bytes.Length - 1 ? Completes[state] : Overshoots[state];
                        set[token >> 5] |= 1u << (token & 31);
                        break;
                    }
                }

                _next[(state * Count) + token] = (byte)(s == Length ? 0 : s);
            }
        }
    }

    /// <summary>The marker's length in bytes (the states are 0 .. Length - 1).</summary>
    public int Length { get; }

    /// <summary>Tokens in the vocabulary.</summary>
    public int Count { get; }

    /// <summary>Per state, a bitmask of the tokens whose last byte completes the marker.</summary>
    public uint[][] Completes { get; }

    /// <summary>Per state, a bitmask of the tokens that complete the marker before their last byte.</summary>
    public uint[][] Overshoots { get; }

    /// <summary>The table of <paramref name="marker"/> over <paramref name="vocabulary"/> (built on first use).</summary>
    public static MarkerTable For(TokenVocabulary vocabulary, string marker)
    {
        var tables = Tables.GetValue(vocabulary, _ => new Dictionary<string, MarkerTable>(StringComparer.Ordinal));
        lock (tables)
        {
            if (!tables.TryGetValue(marker, out var table))
            {
                table = new MarkerTable(vocabulary, Encoding.UTF8.GetBytes(marker));
                tables[marker] = table;
            }

            return table;
        }
    }

    /// <summary>The state after <paramref name="token"/> from <paramref name="state"/>, for a token that neither completes nor overshoots.</summary>
    public int Next(int state, int token) => token < Count ? _next[(state * Count) + token] : 0;

    /// <summary>Whether bit <paramref name="token"/> is set in <paramref name="mask"/>.</summary>
    public static bool Has(uint[] mask, int token) => token >> 5 < mask.Length && (mask[token >> 5] & (1u << (token & 31))) != 0;

    // KMP failure function: failure[i] = length of the longest proper prefix of marker[..i+1] that is also its suffix.
    private static int[] Failure(byte[] marker)
    {
        var failure = new int[marker.Length];
        for (int i = 1, k = 0; i < marker.Length; i++)
        {
            while (k > 0 && marker[i] != marker[k])
            {
                k = failure[k - 1];
            }

            if (marker[i] == marker[k])
            {
                k++;
            }

            failure[i] = k;
        }

        return failure;
    }
}
