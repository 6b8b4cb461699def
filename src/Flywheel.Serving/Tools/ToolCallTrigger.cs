using System.Diagnostics;
using System.Text;
using Flywheel.Sampling;
using Flywheel.Structured;

namespace Flywheel.Serving.Tools;

/// <summary>
/// The constraint of <c>tool_choice: auto</c> in the Hermes format: the model writes freely until it opens a call
/// with <c>&lt;tool_call&gt;</c>; from the token after the marker the call's grammar (one call to one of the tools, its
/// arguments valid against that function's schema) is in force until the call's JSON is complete. One
/// whitespace-only token may come between the marker and the call, as Hermes-trained models write a line break
/// there. A complete call is followed by the end of the answer or, with parallel tool calls, by its closing tag
/// (<c>&lt;/tool_call&gt;</c>, optionally after a line break), written exactly, after which the model is free again
/// (to write text or open the next call).
/// </summary>
/// <remarks>
/// Before the marker, tokens that would complete it and run past it in the same token are masked out, so a call
/// always starts on a token boundary; and once too few tokens are left for the shortest call, tokens completing the
/// marker are masked out too, so an opened call can always close within max_tokens. The closing tag is offered only
/// while it fits in the tokens left. A repair turn, which must be a call, starts with the marker written exactly
/// (<c>mustCall</c>). Created on the request thread, then used by the engine thread only.
/// </remarks>
internal sealed class ToolCallTrigger : ITokenConstraint
{
    private const string Closing = "\n" + ToolCallParser.CloseTag;

    private readonly JsonSchemaGrammar _call;
    private readonly TokenVocabulary _vocabulary;
    private readonly MarkerTable _marker;
    private readonly int _minimumCallTokens;
    private readonly int _maxTokens;
    private readonly bool _several;
    private readonly Action<double>? _maskSeconds;
    private int _generated;
    private int _state;                 // free text: marker bytes matched at the end of the text
    private bool _inCall;
    private bool _callStarted;          // the grammar accepted a token of this call
    private bool _whitespaceUsed;
    private GrammarMatcher? _grammar;   // created at the first mask of a call, with the tokens then left
    private byte[]? _closeRest;         // while closing: the bytes of the closing tag still to write
    private byte[]? _openRest;          // mustCall, before the call: the bytes of the marker still to write

    /// <param name="call">The grammar of one neutral-form call (ToolCallSchema.Build with several = false).</param>
    /// <param name="vocabulary">The model's vocabulary.</param>
    /// <param name="maxTokens">The most tokens the engine will generate (the request's resolved max_tokens).</param>
    /// <param name="several">Whether more than one call may follow (parallel_tool_calls).</param>
    /// <param name="maskSeconds">Called with each in-call mask's wall time, in seconds.</param>
    /// <param name="mustCall">Whether the answer must open with a call (a repair turn): the marker, then the call.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mustCall"/> and the marker and shortest call may not fit <paramref name="maxTokens"/>.</exception>
    public ToolCallTrigger(JsonSchemaGrammar call, TokenVocabulary vocabulary, int maxTokens, bool several = false, Action<double>? maskSeconds = null, bool mustCall = false)
    {
        _call = call;
        _vocabulary = vocabulary;
        _marker = MarkerTable.For(vocabulary, ToolCallParser.OpenTag);
        _minimumCallTokens = call.MinimumTokens(vocabulary) ?? int.MaxValue;
        _maxTokens = maxTokens;
        _several = several;
        _maskSeconds = maskSeconds;
        if (mustCall)
        {
            // At worst one token per byte of the marker before the call.
            _openRest = Encoding.UTF8.GetBytes(ToolCallParser.OpenTag);
            ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, MarkerTokens + Math.Min(_minimumCallTokens, int.MaxValue - MarkerTokens));
        }
    }

    /// <summary>The most tokens a forced (<c>mustCall</c>) answer spends before its call: the marker, a token per byte.</summary>
    public static int MarkerTokens => ToolCallParser.OpenTag.Length;

    public int MaskLength => _vocabulary.MaskLength;

    public bool IsFinished => _grammar?.IsTerminated ?? false;

    /// <summary>Whether a call is open: its grammar (or its closing tag) is in force.</summary>
    public bool InCall => _inCall;

    public void ComputeMask(Span<uint> bitmask)
    {
        if (_openRest is not null)
        {
            Prefixes(bitmask, _openRest, null);
            return;
        }

        if (_closeRest is not null)
        {
            Prefixes(bitmask, _closeRest, null);
            return;
        }

        if (_inCall)
        {
            var started = Stopwatch.GetTimestamp();
            _grammar ??= new GrammarMatcher(_call, _vocabulary, _maxTokens - _generated);
            _grammar.ComputeMask(bitmask);
            if (AllowsWhitespace())
            {
                TokenMasks.Or(bitmask, WhitespaceTokens.For(_vocabulary));
            }

            if (AllowsClosing())
            {
                Prefixes(bitmask, Encoding.UTF8.GetBytes(Closing), Encoding.UTF8.GetBytes(ToolCallParser.CloseTag), keep: true);
            }

            _maskSeconds?.Invoke(Stopwatch.GetElapsedTime(started).TotalSeconds);
            return;
        }

        TokenMasks.AllowAll(bitmask, _vocabulary.Count);

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
        if (_openRest is not null)
        {
            var bytes = _vocabulary.BytesOf(tokenId);
            if (bytes.Length == 0 || !_openRest.AsSpan().StartsWith(bytes))
            {
                return false;
            }

            _openRest = _openRest.Length == bytes.Length ? null : _openRest[bytes.Length..];
            _inCall = _openRest is null;
            _generated++;
            return true;
        }

        if (_closeRest is not null)
        {
            var bytes = _vocabulary.BytesOf(tokenId);
            if (bytes.Length == 0 || !_closeRest.AsSpan().StartsWith(bytes))
            {
                return false;
            }

            _closeRest = _closeRest.Length == bytes.Length ? null : _closeRest[bytes.Length..];
            _inCall = _closeRest is not null;
            _generated++;
            return true;
        }

        if (_inCall)
        {
            return AcceptInCall(tokenId);
        }

        if (MarkerTable.Has(_marker.Overshoots[_state], tokenId))
        {
            return false;
        }

        _inCall = MarkerTable.Has(_marker.Completes[_state], tokenId);
        _state = _inCall ? 0 : _marker.Next(_state, tokenId);
        if (_inCall)
        {
            (_grammar, _callStarted, _whitespaceUsed) = (null, false, false);
        }

        _generated++;
        return true;
    }

    private bool AcceptInCall(int tokenId)
    {
        // The call's grammar allows nothing before its value, so a whitespace-only token here is the allowed break.
        if (AllowsWhitespace() && MarkerTable.Has(WhitespaceTokens.For(_vocabulary), tokenId))
        {
            _whitespaceUsed = true;
            _grammar = null; // recreated with one token less to spend
            _generated++;
            return true;
        }

        _grammar ??= new GrammarMatcher(_call, _vocabulary, _maxTokens - _generated);
        if (_grammar.TryAccept(tokenId))
        {
            _callStarted = true;
            _generated++;
            return true;
        }

        if (!AllowsClosing())
        {
            return false;
        }

        // The call is complete and the model closes it: the rest of the tag, then free text again.
        var bytes = _vocabulary.BytesOf(tokenId);
        var closing = Encoding.UTF8.GetBytes(Closing);
        var tag = closing.AsSpan(1);
        var rest = bytes.Length == 0 ? null
            : closing.AsSpan().StartsWith(bytes) ? closing[bytes.Length..]
            : tag.StartsWith(bytes) ? tag[bytes.Length..].ToArray()
            : null;
        if (rest is null)
        {
            return false;
        }

        (_grammar, _state) = (null, 0);
        _closeRest = rest.Length == 0 ? null : rest;
        _inCall = _closeRest is not null;
        _generated++;
        return true;
    }

    // A line break (or other whitespace) between the marker and the call, once, if the call still fits after it.
    private bool AllowsWhitespace() => !_callStarted && !_whitespaceUsed && _maxTokens - _generated - 1 >= _minimumCallTokens;

    // After a complete call, with parallel calls: its closing tag, when even one byte per token fits.
    private bool AllowsClosing() => _several && _callStarted && _grammar is { IsComplete: true } && _maxTokens - _generated >= Closing.Length;

    /// <summary>Sets (or, without <paramref name="keep"/>, sets only) the tokens whose bytes begin <paramref name="text"/> or <paramref name="alternative"/>.</summary>
    private void Prefixes(Span<uint> bitmask, byte[] text, byte[]? alternative, bool keep = false)
    {
        if (!keep)
        {
            bitmask.Clear();
        }

        for (var token = 0; token < _vocabulary.Count; token++)
        {
            var bytes = _vocabulary.BytesOf(token);
            if (bytes.Length > 0 && bytes.Length <= text.Length && (text.AsSpan().StartsWith(bytes) || (alternative is not null && alternative.AsSpan().StartsWith(bytes))))
            {
                bitmask[token >> 5] |= 1u << (token & 31);
            }
        }
    }
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
