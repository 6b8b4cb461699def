using Flywheel.Sampling;
using Flywheel.Structured;

namespace Flywheel.Serving.Tools;

/// <summary>
/// The constraint of <c>tool_choice: auto</c> in the Hermes format: the model writes freely until it opens a call
/// with <c>&lt;tool_call&gt;</c>; from the token after the marker the call's grammar (one call to one of the tools, its
/// arguments valid against that function's schema) is in force until the call closes, which ends the answer. One
/// whitespace-only token may come between the marker and the call, as Hermes-trained models write a line break there.
/// </summary>
/// <remarks>
/// Before the marker, tokens that would complete it and run past it in the same token are masked out, so the call
/// always starts on a token boundary; and once too few tokens are left for the shortest call, tokens completing the
/// marker are masked out too, so an opened call can always close within max_tokens. One call per answer: the
/// grammar's end is the answer's end. Created on the request thread, then used by the engine thread only.
/// </remarks>
internal sealed class ToolCallTrigger : ITokenConstraint
{
    private readonly JsonSchemaGrammar _call;
    private readonly TokenVocabulary _vocabulary;
    private readonly MarkerTable _marker;
    private readonly int _minimumCallTokens;
    private readonly int _maxTokens;
    private readonly Action<double>? _maskSeconds;
    private int _generated;
    private int _state;                 // marker bytes matched at the end of the text (free part only)
    private bool _inCall;
    private bool _callStarted;          // the grammar accepted a token
    private bool _whitespaceUsed;
    private GrammarConstraint? _grammar; // created at the first mask of the call, with the tokens then left

    /// <param name="call">The grammar of one neutral-form call (ToolCallSchema.Build with several = false).</param>
    /// <param name="vocabulary">The model's vocabulary.</param>
    /// <param name="maxTokens">The most tokens the engine will generate (the request's resolved max_tokens).</param>
    /// <param name="maskSeconds">Called with each grammar mask's wall time, in seconds.</param>
    public ToolCallTrigger(JsonSchemaGrammar call, TokenVocabulary vocabulary, int maxTokens, Action<double>? maskSeconds = null)
    {
        _call = call;
        _vocabulary = vocabulary;
        _marker = MarkerTable.For(vocabulary, ToolCallParser.OpenTag);
        _minimumCallTokens = call.MinimumTokens(vocabulary) ?? int.MaxValue;
        _maxTokens = maxTokens;
        _maskSeconds = maskSeconds;
    }

    public int MaskLength => _vocabulary.MaskLength;

    public bool IsFinished => _grammar?.IsFinished ?? false;

    /// <summary>Whether the marker has been written and the call's grammar is in force.</summary>
    public bool InCall => _inCall;

    public void ComputeMask(Span<uint> bitmask)
    {
        if (_inCall)
        {
            _grammar ??= new GrammarConstraint(_call, _vocabulary, _maxTokens - _generated, _maskSeconds);
            _grammar.ComputeMask(bitmask);
            if (AllowsWhitespace())
            {
                var whitespace = WhitespaceTokens.For(_vocabulary);
                for (var w = 0; w < bitmask.Length; w++)
                {
                    bitmask[w] |= whitespace[w];
                }
            }

            return;
        }

        bitmask.Fill(uint.MaxValue);
        var last = _vocabulary.Count & 31;
        if (last != 0)
        {
            bitmask[^1] = (1u << last) - 1; // no ids past the vocabulary
        }

        var overshoots = _marker.Overshoots[_state];
        var completes = _marker.Completes[_state];
        // The token completing the marker leaves _maxTokens - _generated - 1 for the call.
        var roomForCall = _maxTokens - _generated - 1 >= _minimumCallTokens;
        for (var w = 0; w < bitmask.Length; w++)
        {
            bitmask[w] &= ~(overshoots[w] | (roomForCall ? 0u : completes[w]));
        }
    }

    public bool TryAccept(int tokenId)
    {
        if (_inCall)
        {
            // The call's grammar allows nothing before its value, so a whitespace-only token here is the allowed break.
            if (AllowsWhitespace() && MarkerTable.Has(WhitespaceTokens.For(_vocabulary), tokenId))
            {
                _whitespaceUsed = true;
                _grammar = null; // recreated with one token less to spend
                _generated++;
                return true;
            }

            _grammar ??= new GrammarConstraint(_call, _vocabulary, _maxTokens - _generated, _maskSeconds);
            if (!_grammar.TryAccept(tokenId))
            {
                return false;
            }

            _callStarted = true;
            _generated++;
            return true;
        }

        if (MarkerTable.Has(_marker.Overshoots[_state], tokenId))
        {
            return false;
        }

        _inCall = MarkerTable.Has(_marker.Completes[_state], tokenId);
        _state = _inCall ? 0 : _marker.Next(_state, tokenId);
        _generated++;
        return true;
    }

    // A line break (or other whitespace) between the marker and the call, once, if the call still fits after it.
    private bool AllowsWhitespace() => !_callStarted && !_whitespaceUsed && _maxTokens - _generated - 1 >= _minimumCallTokens;
}

/// <summary>The tokens made only of JSON whitespace (space, tab, line feed, carriage return), per vocabulary.</summary>
internal static class WhitespaceTokens
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TokenVocabulary, uint[]> Masks = new();
    private static readonly System.Buffers.SearchValues<byte> Whitespace = System.Buffers.SearchValues.Create(" \n\t\r"u8);

    public static uint[] For(TokenVocabulary vocabulary) => Masks.GetValue(vocabulary, static v =>
    {
        var mask = new uint[v.MaskLength];
        for (var token = 0; token < v.Count; token++)
        {
            var bytes = v.BytesOf(token);
            if (bytes.Length > 0 && !v.IsEos(token) && !bytes.ContainsAnyExcept(Whitespace))
            {
                mask[token >> 5] |= 1u << (token & 31);
            }
        }

        return mask;
    });
}
