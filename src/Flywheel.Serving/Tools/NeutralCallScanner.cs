using System.Text;
using System.Text.RegularExpressions;

namespace Flywheel.Serving.Tools;

/// <summary>
/// Reads neutral-form calls (<see cref="ToolCallSchema"/>) as they are generated, so a stream can send each call's
/// name as soon as it is written and its arguments piece by piece, as OpenAI does. The grammar wrote the name before
/// the arguments and a name holds no quotes or escapes, so the scanner only has to find <c>"name":"…"</c>, then
/// <c>"arguments":</c>, then follow the arguments' JSON value (strings, escapes, nesting) to its end. Not thread-safe.
/// </summary>
internal sealed partial class NeutralCallScanner
{
    private readonly StringBuilder _text = new();
    private int _position;          // next character of _text to scan
    private bool _inArguments;
    private int _depth;
    private bool _inString;
    private bool _escaped;
    private StringBuilder? _arguments;

    /// <summary>The calls seen so far: id, name and the arguments text written so far.</summary>
    public List<(string Id, string Name, StringBuilder Arguments)> Calls { get; } = [];

    [GeneratedRegex("\\G[\\s\\S]*?\"name\"\\s*:\\s*\"([^\"]*)\"")]
    private static partial Regex NameKey();

    [GeneratedRegex("\\G\\s*,\\s*\"arguments\"\\s*:\\s*")]
    private static partial Regex ArgumentsKey();

    /// <summary>Adds generated text; returns the call pieces it completes (a call's start, or a fragment of its arguments).</summary>
    public List<ToolCallDelta> Push(string text)
    {
        _text.Append(text);
        var pieces = new List<ToolCallDelta>();
        var s = _text.ToString();
        while (_position < s.Length)
        {
            if (!_inArguments)
            {
                if (_arguments is null)
                {
                    var name = NameKey().Match(s, _position);
                    if (!name.Success)
                    {
                        break; // wait for the rest of the name
                    }

                    var id = ToolCall.NewId();
                    _arguments = new StringBuilder();
                    Calls.Add((id, name.Groups[1].Value, _arguments));
                    pieces.Add(new ToolCallDelta(Calls.Count - 1, id, name.Groups[1].Value, ""));
                    _position = name.Index + name.Length;
                }

                var key = ArgumentsKey().Match(s, _position);
                if (!key.Success)
                {
                    break;
                }

                _position = key.Index + key.Length;
                _inArguments = true;
                (_depth, _inString, _escaped) = (0, false, false);
            }

            var start = _position;
            while (_position < s.Length && _inArguments)
            {
                Step(s[_position++]);
            }

            if (_position > start)
            {
                var fragment = s[start.._position];
                _arguments!.Append(fragment);
                pieces.Add(new ToolCallDelta(Calls.Count - 1, null, null, fragment));
            }

            if (!_inArguments)
            {
                _arguments = null; // this call is done; look for the next one
            }
        }

        return pieces;
    }

    /// <summary>One character of the arguments value; the value ends when its outermost object or array closes.</summary>
    private void Step(char c)
    {
        if (_inString)
        {
            if (_escaped)
            {
                _escaped = false;
            }
            else if (c == '\\')
            {
                _escaped = true;
            }
            else if (c == '"')
            {
                _inString = false;
            }

            return;
        }

        switch (c)
        {
            case '"':
                _inString = true;
                break;
            case '{' or '[':
                _depth++;
                break;
            case '}' or ']':
                if (--_depth == 0)
                {
                    _inArguments = false;
                }

                break;
        }
    }
}
