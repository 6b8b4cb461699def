using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Adapters;

/// <summary>
/// The engine-owned stacked LoRA buffers a LoRA-capable graph reads (<see cref="LoraGraphNames"/>): for every
/// adapted (layer, target), A [slots, in, rank] and B [slots, rank, out] in native memory. Slot 0 stays zero
/// (the base model); loading an adapter into slot i writes PEFT's lora_A.weight [r, in] transposed into
/// A[i, :, :r] and scale * lora_B.weight [out, r] transposed into B[i, :r, :], and zeros the rest of the slot
/// (a smaller rank, a target the adapter does not adapt).
/// </summary>
/// <remarks>
/// The graph reads every slot it is given, so the runner binds views covering only slots
/// 0 .. <see cref="BoundSlotCount"/> - 1 (the highest loaded slot and those below it; a slot is the outermost
/// dimension, so such a view is a prefix of the buffer) and rebinds them only when that count changes.
/// Thread-safety: <see cref="Write"/> may run on any thread for a slot that no submitted request holds, and
/// raises <see cref="BoundSlotCount"/> only once the slot is written; a Run that still reads a slot being
/// written holds no row on it, so whatever its group computes there is never gathered back into any row.
/// <see cref="Clear"/> runs between Runs. The views are made on the runner's thread.
/// </remarks>
public sealed unsafe class AdapterSlots : IDisposable
{
    private readonly Module[] _modules;
    private readonly bool[] _written;
    private volatile int _boundSlotCount = 1;

    private AdapterSlots(Module[] modules, int slotCount, int rank, int layerCount)
    {
        _modules = modules;
        _written = new bool[slotCount];
        SlotCount = slotCount;
        Rank = rank;
        LayerCount = layerCount;
        Targets = [.. modules.Select(m => m.Target).Distinct().Order()];
    }

    /// <summary>Slots including the base's slot 0.</summary>
    public int SlotCount { get; }

    /// <summary>Rank the buffers hold per slot (the most an adapter may have).</summary>
    public int Rank { get; }

    public int LayerCount { get; }

    /// <summary>The projections the graph adapts.</summary>
    public IReadOnlyList<LoraTarget> Targets { get; }

    /// <summary>Bytes of A and B one slot holds (float32, zero-padded to <see cref="Rank"/>).</summary>
    public long BytesPerSlot => _modules.Sum(m => (long)(m.InCount + m.OutCount) * Rank * sizeof(float));

    /// <summary>Slots the graph needs bound: 1 + the highest slot holding an adapter (1: only the base).</summary>
    public int BoundSlotCount => _boundSlotCount;

    /// <summary>The graph input names: A then B of every module; <see cref="InputView"/> takes the same order.</summary>
    public IEnumerable<string> InputNames =>
        _modules.SelectMany(m => new[] { LoraGraphNames.A(m.Layer, m.Target), LoraGraphNames.B(m.Layer, m.Target) });

    /// <summary>How many inputs <see cref="InputNames"/> lists.</summary>
    public int InputCount => 2 * _modules.Length;

    /// <summary>A view of input <paramref name="index"/> (of <see cref="InputNames"/>) covering slots 0 .. <paramref name="slotCount"/> - 1.</summary>
    public OrtValue InputView(int index, int slotCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slotCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slotCount, SlotCount);
        var m = _modules[index / 2];
        return index % 2 == 0 ? m.AView(slotCount) : m.BView(slotCount);
    }

    /// <summary>
    /// Buffers for the LoRA inputs of <paramref name="session"/> with <paramref name="slotCount"/> slots of
    /// <paramref name="rank"/>; null when the graph has no LoRA inputs.
    /// </summary>
    public static AdapterSlots? ForSession(InferenceSession session, int layerCount, int slotCount, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slotCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        if (!session.InputMetadata.ContainsKey(LoraGraphNames.SlotIds))
        {
            return null;
        }

        var modules = new List<Module>();
        for (var layer = 0; layer < layerCount; layer++)
        {
            foreach (var target in LoraTargets.All)
            {
                if (session.InputMetadata.TryGetValue(LoraGraphNames.A(layer, target), out var a)
                    && session.InputMetadata.TryGetValue(LoraGraphNames.B(layer, target), out var b))
                {
                    // A graph from before slots became the outer dimension has A [in, slots, rank].
                    if (a.Dimensions.Length != 3 || a.Dimensions[1] < 1 || b.Dimensions.Length != 3 || b.Dimensions[2] < 1)
                    {
                        throw new InvalidDataException($"the model's LoRA input {LoraGraphNames.A(layer, target)} is not [slots, in, rank]: it was built by an older make-model; rebuild it with make-model --lora");
                    }

                    modules.Add(new Module(layer, target, a.Dimensions[1], b.Dimensions[2], slotCount, rank));
                }
            }
        }

        return new AdapterSlots([.. modules], slotCount, rank, layerCount);
    }

    /// <summary>
    /// Why <paramref name="adapter"/> cannot be loaded here (a rank over <see cref="Rank"/>, a target or shape
    /// the graph lacks), or null. Call before <see cref="Write"/>.
    /// </summary>
    public string? Refusal(PeftAdapter adapter)
    {
        if (adapter.Config.Rank > Rank)
        {
            return $"adapter '{adapter.Directory}' has rank {adapter.Config.Rank}, over the maximum LoRA rank {Rank} (--max-lora-rank)";
        }

        for (var layer = 0; layer < LayerCount; layer++)
        {
            foreach (var target in LoraTargets.All)
            {
                if (!adapter.TryGetWeights(layer, target, out var w))
                {
                    continue;
                }

                var m = Array.Find(_modules, m => m.Layer == layer && m.Target == target);
                if (m is null)
                {
                    return $"adapter '{adapter.Directory}' adapts {LoraTargets.PeftName(target)}, which the model's graph does not take adapters on (it was built with --lora {string.Join(',', Targets.Select(LoraTargets.PeftName))}; rebuild it with --lora all, by make-model or import)";
                }

                if (w.InCount != m.InCount || w.OutCount != m.OutCount)
                {
                    return $"adapter '{adapter.Directory}': layer {layer} {LoraTargets.PeftName(target)} is [{w.InCount} -> {w.OutCount}], the model's is [{m.InCount} -> {m.OutCount}]";
                }

                // An infinite or NaN weight would turn every output of the adapter's rows into NaN or infinity.
                if (!IsFinite(w.A) || !IsFinite(w.B) || !double.IsFinite(w.Scale))
                {
                    return $"adapter '{adapter.Directory}': layer {layer} {LoraTargets.PeftName(target)} has a weight that is not a finite number";
                }
            }
        }

        return null;
    }

    private static bool IsFinite(float[] values)
    {
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Copies <paramref name="adapter"/> (checked by <see cref="Refusal"/>) into <paramref name="slot"/>.</summary>
    public void Write(int slot, PeftAdapter adapter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slot, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, SlotCount);
        foreach (var m in _modules)
        {
            m.Clear(slot);
            if (adapter.TryGetWeights(m.Layer, m.Target, out var w))
            {
                m.Write(slot, w);
            }
        }

        SetWritten(slot, true);
    }

    /// <summary>Zeros <paramref name="slot"/> (it then adds nothing).</summary>
    public void Clear(int slot)
    {
        SetWritten(slot, false);
        foreach (var m in _modules)
        {
            m.Clear(slot);
        }
    }

    private void SetWritten(int slot, bool written)
    {
        lock (_written)
        {
            _written[slot] = written;
            _boundSlotCount = Array.LastIndexOf(_written, true) + 1 is var n && n > 1 ? n : 1;
        }
    }

    public void Dispose()
    {
        foreach (var m in _modules)
        {
            m.Dispose();
        }
    }

    /// <summary>One adapted projection's pair of buffers.</summary>
    private sealed class Module : IDisposable
    {
        private readonly float* _a; // [slots, in, rank]
        private readonly float* _b; // [slots, rank, out]
        private readonly int _rank;
        private readonly OrtValue?[] _aViews, _bViews; // [slot count] views of the first slots, made on first use

        public Module(int layer, LoraTarget target, long inCount, long outCount, int slots, int rank)
        {
            (Layer, Target, InCount, OutCount, _rank) = (layer, target, checked((int)inCount), checked((int)outCount), rank);
            _a = (float*)NativeMemory.AllocZeroed((nuint)((long)slots * InCount * rank), sizeof(float));
            _b = (float*)NativeMemory.AllocZeroed((nuint)((long)slots * rank * OutCount), sizeof(float));
            _aViews = new OrtValue?[slots + 1];
            _bViews = new OrtValue?[slots + 1];
        }

        public int Layer { get; }

        public LoraTarget Target { get; }

        public int InCount { get; }

        public int OutCount { get; }

        public OrtValue AView(int slots) => _aViews[slots] ??= View(_a, slots, InCount, _rank);

        public OrtValue BView(int slots) => _bViews[slots] ??= View(_b, slots, _rank, OutCount);

        public void Write(int slot, LoraWeights w)
        {
            // A[slot, i, j] = lora_A[j, i]; B[slot, j, o] = scale * lora_B[o, j].
            for (var i = 0; i < InCount; i++)
            {
                var row = _a + ((((long)slot * InCount) + i) * _rank);
                for (var j = 0; j < w.Rank; j++)
                {
                    row[j] = w.A[(j * InCount) + i];
                }
            }

            var scale = (float)w.Scale;
            for (var j = 0; j < w.Rank; j++)
            {
                var row = _b + ((((long)slot * _rank) + j) * OutCount);
                for (var o = 0; o < OutCount; o++)
                {
                    row[o] = scale * w.B[(o * w.Rank) + j];
                }
            }
        }

        public void Clear(int slot)
        {
            new Span<float>(_a + ((long)slot * InCount * _rank), InCount * _rank).Clear();
            new Span<float>(_b + ((long)slot * _rank * OutCount), _rank * OutCount).Clear();
        }

        public void Dispose()
        {
            foreach (var v in _aViews.Concat(_bViews))
            {
                v?.Dispose();
            }

            NativeMemory.Free(_a);
            NativeMemory.Free(_b);
        }

        private static OrtValue View(float* data, int slots, int rows, int columns)
        {
            var count = (long)slots * rows * columns;
            return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Float, [slots, rows, columns], (nint)data, count * sizeof(float));
        }
    }
}
