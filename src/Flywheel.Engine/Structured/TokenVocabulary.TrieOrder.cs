namespace Flywheel.Structured;

/// <summary>
/// The tokens' bytes laid out again in the trie's token order: the budget's mask reads its pending
/// tokens in that order (GrammarMatcher.BudgetMask.cs), and by id their bytes lie all over the
/// vocabulary, a cache miss or two per token; here neighbours in the trie are neighbours in memory.
/// </summary>
public sealed partial class TokenVocabulary
{
    private TrieOrderBytes? _trieOrder;

    /// <summary>The bytes of the token at each trie position (<see cref="TokenTrie.Tokens"/>), made on first use (about the vocabulary's bytes again).</summary>
    internal TrieOrderBytes InTrieOrder => _trieOrder ??= MakeTrieOrder();

    private TrieOrderBytes MakeTrieOrder()
    {
        var order = Trie.Tokens;
        var offsets = new int[order.Length + 1];
        for (var p = 0; p < order.Length; p++)
        {
            offsets[p + 1] = offsets[p] + BytesOf(order[p]).Length;
        }

        var data = new byte[offsets[^1]];
        for (var p = 0; p < order.Length; p++)
        {
            BytesOf(order[p]).CopyTo(data.AsSpan(offsets[p]));
        }

        return new TrieOrderBytes(data, offsets);
    }

    /// <summary>Token bytes by trie position: position p is <c>Data[Offsets[p]..Offsets[p + 1]]</c>.</summary>
    internal sealed class TrieOrderBytes(byte[] data, int[] offsets)
    {
        private readonly byte[] _data = data;
        private readonly int[] _offsets = offsets;

        /// <summary>The bytes of the token at trie position <paramref name="position"/>.</summary>
        public ReadOnlySpan<byte> At(int position) => _data.AsSpan(_offsets[position], _offsets[position + 1] - _offsets[position]);
    }
}
