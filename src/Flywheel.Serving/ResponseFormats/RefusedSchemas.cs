using System.Security.Cryptography;
using System.Text;

namespace Flywheel.Serving.ResponseFormats;

/// <summary>
/// Schemas the compiler refused for what they are (a keyword it cannot enforce, more states than the limit),
/// by the SHA-256 of their cache key, with the refusal's message: the same schema again is refused at once
/// instead of taking the compile pool for up to a compile's whole budget. Refusals by the time budget are not
/// kept, since they depend on how busy the server was. Bounded by count; the oldest entry goes first (a
/// refusal is cheap to earn again). Thread-safe.
/// </summary>
internal sealed class RefusedSchemas(int maxCount = RefusedSchemas.DefaultMaxCount)
{
    /// <summary>Default bound on remembered refusals (a hash and a short message each: well under 1 MB in all).</summary>
    public const int DefaultMaxCount = 2048;

    private readonly object _lock = new();
    private readonly Dictionary<string, string> _messages = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new(); // oldest first

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _messages.Count;
            }
        }
    }

    public bool TryGet(string key, out string message)
    {
        var hash = Hash(key);
        lock (_lock)
        {
            return _messages.TryGetValue(hash, out message!);
        }
    }

    public void Add(string key, string message)
    {
        var hash = Hash(key);
        lock (_lock)
        {
            if (!_messages.TryAdd(hash, message))
            {
                return;
            }

            _order.Enqueue(hash);
            while (_messages.Count > maxCount)
            {
                _messages.Remove(_order.Dequeue());
            }
        }
    }

    // A hash, not the text: a refused schema may be megabytes, and only its identity is needed.
    private static string Hash(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
