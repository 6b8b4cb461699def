using System.Diagnostics;
using Flywheel.Sampling;
using Flywheel.Structured;

namespace Flywheel.Serving.Tools;

/// <summary>
/// The constraint of <c>tool_choice: auto</c> in the Llama-3 JSON format. Llama 3.1-3.3 call a function by making the
/// whole answer a JSON object, <c>{"name": ..., "parameters": {...}}</c>, optionally after <c>&lt;|python_tag|&gt;</c>;
/// so an answer whose first non-whitespace output is <c>{</c> or the python tag is a call, and from there the call's
/// grammar (one call to one of the tools, its parameters valid against that function's schema) is in force until the
/// call's JSON is complete. An answer that opens with anything else is text and stays free to its end. A complete call
/// is followed by the end of the answer or, with parallel tool calls, by <c>;</c> (whitespace around it allowed, in
/// the same token) and the next call. One whitespace-only token may come between the python tag or the separator and
/// the call.
/// </summary>
/// <remarks>
/// Treating a leading <c>{</c> as a call is the family's own convention (its template tells the model that calls
/// are JSON objects, and the parser reads such an answer as calls), so a text answer cannot open with <c>{</c>: the
/// tokens that would start one are limited to those that start a valid call. A call opens on a token that begins
/// with <c>{</c> (leading whitespace comes in tokens of its own); the python tag must end on a token boundary. Once
/// too few tokens are left for the shortest call, neither may open one and the answer is text. Created on the
/// request thread, then used by the engine thread only.
/// </remarks>
internal sealed class LlamaCallTrigger : ITokenConstraint
{
    private readonly JsonSchemaGrammar _call;
    private readonly TokenVocabulary _vocabulary;
    private readonly int _pythonTagId;
    private readonly int _minimumCallTokens;
    private readonly int _maxTokens;
    private readonly bool _several;
    private readonly Action<double>? _maskSeconds;
    private readonly uint[] _scratch;
    private readonly LlamaOpeningTokens _opening;
    private readonly uint[] _whitespace;
    private Phase _phase;
    private int _tagMatched;            // Opening: bytes of the python tag written so far (after leading whitespace)
    private int _generated;
    private bool _whitespaceUsed;       // CallExpected: the one whitespace token before the call was written
    private GrammarMatcher? _grammar;   // the current call's; created with the tokens then left

    /// <param name="call">The grammar of one call in Llama's form (<c>ToolCallSchema.Build(tools, false, "parameters")</c>).</param>
    /// <param name="vocabulary">The model's vocabulary.</param>
    /// <param name="maxTokens">The most tokens the engine will generate (the request's resolved max_tokens).</param>
    /// <param name="pythonTagId">The id of the <c>&lt;|python_tag|&gt;</c> special token, when the vocabulary has one.</param>
    /// <param name="several">Whether more than one call may follow (parallel_tool_calls).</param>
    /// <param name="mustCall">Whether the answer must be a call (a repair turn): the grammar is in force from the first token.</param>
    /// <param name="maskSeconds">Called with each in-call mask's wall time, in seconds.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mustCall"/> and the shortest call does not fit <paramref name="maxTokens"/>.</exception>
    public LlamaCallTrigger(JsonSchemaGrammar call, TokenVocabulary vocabulary, int maxTokens, int? pythonTagId = null, bool several = false, bool mustCall = false,
        Action<double>? maskSeconds = null)
    {
        _call = call;
        _vocabulary = vocabulary;
        _pythonTagId = pythonTagId ?? -1;
        _minimumCallTokens = call.MinimumTokens(vocabulary) ?? int.MaxValue;
        if (mustCall && maxTokens < _minimumCallTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, $"the shortest call takes {_minimumCallTokens} tokens");
        }

        _maxTokens = maxTokens;
        _several = several;
        _maskSeconds = maskSeconds;
        _scratch = new uint[vocabulary.MaskLength];
        // Built once per vocabulary (tens of ms on 128k tokens): here, on the request thread, not the engine's.
        _opening = LlamaOpeningTokens.For(vocabulary);
        _whitespace = WhitespaceTokens.For(vocabulary);
        _phase = mustCall ? Phase.CallExpected : Phase.Opening;
    }

    private enum Phase
    {
        Opening,        // only whitespace (and perhaps part of the python tag) so far
        Text,           // the answer is text: free to its end
        CallExpected,   // after the python tag or a separator: a call must follow
        InCall,         // the grammar accepted a token of this call
    }

    public int MaskLength => _vocabulary.MaskLength;

    public bool IsFinished => _grammar?.IsTerminated ?? false;

    /// <summary>Whether the answer is a call (its grammar is in force, or one must follow).</summary>
    public bool InCall => _phase is Phase.CallExpected or Phase.InCall;

    /// <summary>Whether the answer turned out to be text.</summary>
    public bool IsText => _phase == Phase.Text;

    public void ComputeMask(Span<uint> bitmask)
    {
        if (_phase == Phase.Text)
        {
            TokenMasks.AllowAll(bitmask, _vocabulary.Count);
            return;
        }

        if (_phase == Phase.Opening)
        {
            OpeningMask(bitmask);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        _grammar ??= new GrammarMatcher(_call, _vocabulary, _maxTokens - _generated);
        _grammar.ComputeMask(bitmask);
        if (AllowsWhitespace())
        {
            TokenMasks.Or(bitmask, _whitespace);
        }

        if (AllowsSeparator())
        {
            TokenMasks.Or(bitmask, _opening.Separator);
        }

        _maskSeconds?.Invoke(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    public bool TryAccept(int tokenId)
    {
        var accepted = _phase switch
        {
            Phase.Text => true,
            Phase.Opening => AcceptOpening(tokenId),
            Phase.CallExpected when AllowsWhitespace() && MarkerTable.Has(_whitespace, tokenId) => _whitespaceUsed = true,
            _ => AcceptInCall(tokenId),
        };
        if (accepted)
        {
            _generated++;
            if (_phase == Phase.CallExpected && _whitespaceUsed)
            {
                _grammar = null; // recreated with one token less to spend
            }
        }

        return accepted;
    }

    private void OpeningMask(Span<uint> bitmask)
    {
        var tokens = _opening;
        // The tag's last token leaves _maxTokens - _generated - 1 for the call; a call's first token is its own.
        var roomAfterTag = _maxTokens - _generated - 1 >= _minimumCallTokens;
        var roomForCall = _maxTokens - _generated >= _minimumCallTokens;
        if (_tagMatched > 0)
        {
            bitmask.Clear();
            for (var token = 0; token < _vocabulary.Count; token++)
            {
                var kind = LlamaOpeningTokens.Classify(_vocabulary.BytesOf(token), _tagMatched, out _);
                if (kind is LlamaTokenKind.Text or LlamaTokenKind.TagPart || (kind == LlamaTokenKind.TagEnd && roomAfterTag))
                {
                    bitmask[token >> 5] |= 1u << (token & 31);
                }
            }

            return;
        }

        for (var w = 0; w < bitmask.Length; w++)
        {
            bitmask[w] = tokens.Text[w] | tokens.Whitespace[w] | tokens.TagPart[w] | (roomAfterTag ? tokens.TagEnd[w] : 0u);
        }

        if (_pythonTagId >= 0 && _pythonTagId < _vocabulary.Count)
        {
            // The special token has no bytes, so it was counted as text; it opens a call.
            bitmask[_pythonTagId >> 5] &= ~(1u << (_pythonTagId & 31));
            bitmask[_pythonTagId >> 5] |= roomAfterTag ? 1u << (_pythonTagId & 31) : 0u;
        }

        if (roomForCall)
        {
            // The tokens that open the call: those its grammar allows first (each begins with '{').
            new GrammarMatcher(_call, _vocabulary, _maxTokens - _generated).ComputeMask(_scratch);
            TokenMasks.Or(bitmask, _scratch);
        }
    }

    private bool AcceptOpening(int tokenId)
    {
        var roomAfterTag = _maxTokens - _generated - 1 >= _minimumCallTokens;
        if (tokenId == _pythonTagId && _tagMatched == 0)
        {
            return roomAfterTag && StartCall();
        }

        if ((uint)tokenId >= (uint)_vocabulary.Count)
        {
            return false;
        }

        switch (LlamaOpeningTokens.Classify(_vocabulary.BytesOf(tokenId), _tagMatched, out var length))
        {
            case LlamaTokenKind.Whitespace:
                return true;
            case LlamaTokenKind.Text:
                _phase = Phase.Text;
                return true;
            case LlamaTokenKind.TagPart:
                _tagMatched += length;
                return true;
            case LlamaTokenKind.TagEnd:
                return roomAfterTag && StartCall();
            case LlamaTokenKind.Brace when _maxTokens - _generated >= _minimumCallTokens:
                var grammar = new GrammarMatcher(_call, _vocabulary, _maxTokens - _generated);
                if (!grammar.TryAccept(tokenId))
                {
                    return false; // a '{' that does not start a valid call (e.g. one followed by a space)
                }

                (_grammar, _phase) = (grammar, Phase.InCall);
                return true;
            default:
                return false; // a tag that runs on in the same token, or a call with no room to close
        }
    }

    private bool AcceptInCall(int tokenId)
    {
        _grammar ??= new GrammarMatcher(_call, _vocabulary, _maxTokens - _generated);
        if (_grammar.TryAccept(tokenId))
        {
            _phase = Phase.InCall;
            return true;
        }

        // A complete call and, with parallel calls, ';' before the next one.
        return AllowsSeparator() && MarkerTable.Has(_opening.Separator, tokenId) && StartCall();
    }

    private bool StartCall()
    {
        (_phase, _tagMatched, _grammar, _whitespaceUsed) = (Phase.CallExpected, 0, null, false);
        return true;
    }

    // Before a call's first token, once, if the call still fits after it.
    private bool AllowsWhitespace() => _phase == Phase.CallExpected && !_whitespaceUsed && _maxTokens - _generated - 1 >= _minimumCallTokens;

    // After a complete call, with parallel calls, when a further call fits after the separator.
    private bool AllowsSeparator() => _several && _phase == Phase.InCall && _grammar is { IsComplete: true, IsTerminated: false } && _maxTokens - _generated - 1 >= _minimumCallTokens;
}
