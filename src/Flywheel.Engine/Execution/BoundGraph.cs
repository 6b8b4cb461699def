using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Execution;

/// <summary>
/// A session with its inputs and outputs bound by position through one <see cref="OrtIoBinding"/>. A value
/// is (re)bound only when it differs from the one bound at that position, since binding marshals the name
/// (a managed allocation) while a Run with unchanged bindings allocates nothing. The bound values belong
/// to the caller and must stay alive (and not be disposed) while bound. Not thread-safe.
/// </summary>
internal sealed class BoundGraph : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtValue?[] _boundInputs;
    private readonly OrtValue?[] _boundOutputs;

    public BoundGraph(InferenceSession session, IReadOnlyList<string> inputNames, IReadOnlyList<string> outputNames)
    {
        _session = session;
        _binding = session.CreateIoBinding();
        _inputNames = [.. inputNames];
        _outputNames = [.. outputNames];
        _boundInputs = new OrtValue?[_inputNames.Length];
        _boundOutputs = new OrtValue?[_outputNames.Length];
    }

    /// <summary>Bind calls made so far (inputs and outputs).</summary>
    public long BindCount { get; private set; }

    /// <summary>Binds <paramref name="value"/> to input (or output) number <paramref name="index"/> unless it is already bound there.</summary>
    public void Bind(int index, OrtValue value, bool input)
    {
        var bound = input ? _boundInputs : _boundOutputs;
        if (ReferenceEquals(bound[index], value))
        {
            return;
        }

        if (input)
        {
            _binding.BindInput(_inputNames[index], value);
        }
        else
        {
            _binding.BindOutput(_outputNames[index], value);
        }

        bound[index] = value;
        BindCount++;
    }

    /// <summary>Runs the session over the bound values; outputs land in the bound output tensors.</summary>
    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    public void Dispose()
    {
        _binding.Dispose();
        _runOptions.Dispose();
    }
}

/// <summary>
/// OrtValues made on first use per key and kept (a decode loop asks for the same shapes step after step),
/// all disposed and forgotten once more than <see cref="Capacity"/> exist (prompt chunks ask for many).
/// A value handed out stays valid until that happens or the cache is disposed; a <see cref="BoundGraph"/>
/// that still has it bound keeps ONNX Runtime's own reference, and the next Bind with a fresh value replaces it.
/// </summary>
internal sealed class ViewCache<TKey>(Func<TKey, OrtValue> create) : IDisposable
    where TKey : notnull
{
    public const int Capacity = 256;

    private readonly Dictionary<TKey, OrtValue> _values = [];

    public OrtValue Get(TKey key)
    {
        if (_values.TryGetValue(key, out var value))
        {
            return value;
        }

        if (_values.Count >= Capacity)
        {
            Dispose();
        }

        value = create(key);
        _values.Add(key, value);
        return value;
    }

    public void Dispose()
    {
        foreach (var v in _values.Values)
        {
            v.Dispose();
        }

        _values.Clear();
    }
}
