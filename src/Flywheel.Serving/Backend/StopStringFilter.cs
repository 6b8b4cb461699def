namespace Flywheel.Serving.Backend;

/// <summary>
/// Applies stop strings to streamed text: text that could still be the start of a stop string is held
/// back, and when a stop string completes, the text before it is released and the rest (the stop string
/// included) is dropped, as OpenAI does. One per request; not thread-safe.
/// </summary>
public sealed class StopStringFilter(IReadOnlyList<string> stops)
{
    private string _pending = "";

    /// <summary>True once a stop string was seen.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds generated text; returns what can be released now.</summary>
    public string Push(string text)
    {
        if (Stopped || text.Length == 0)
        {
            return "";
        }

        if (stops.Count == 0)
        {
            return text;
        }

        _pending += text;
        var cut = -1;
        foreach (var stop in stops)
        {
            var at = _pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
            {
                cut = at;
            }
        }

        if (cut >= 0)
        {
            Stopped = true;
            var released = _pending[..cut];
            _pending = "";
            return released;
        }

        // Hold back the longest suffix that is a prefix of some stop string.
        var hold = 0;
        foreach (var stop in stops)
        {
            for (var k = Math.Min(stop.Length - 1, _pending.Length); k > hold; k--)
            {
                if (_pending.AsSpan(_pending.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }

        var output = _pending[..^hold];
        _pending = _pending[^hold..];
        return output;
    }

    /// <summary>At the end of generation: whatever was held back (it never became a stop string).</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }
}
