using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Adapters;

/// <summary>
/// The engine-owned stacked LoRA buffers a LoRA-capable graph reads (<see cref="LoraGraphNames"/>): for every
/// adapted (layer, target), A [in, slots, rank] and B [slots, rank, out] in native memory, each wrapped once
/// in an OrtValue that stays bound for the life of the runner. Slot 0 stays zero (the base model); loading
/// an adapter into slot i writes PEFT's lora_A.weight [r, in] transposed into A[:, i, :r] and
/// scale * lora_B.weight [out, r] transposed into B[i, :r, :], and zeros the rest of the slot (a smaller rank,
/// a target the adapter does not adapt).
/// </summary>
/// <remarks>
/// Thread-safety: a Run reads only the slots its rows use (the graph gathers the Run's distinct slots), so
/// <see cref="Write"/> and <see cref="Clear"/> may run on any thread for a slot that no submitted request
/// holds; the caller (the engine's slot bookkeeping) guarantees that. Slots never overlap in memory.
/// </remarks>
public sealed unsafe class AdapterSlots : IDisposable
{
    private readonly Module[] _modules;

    private AdapterSlots(Module[] modules, int slotCount, int rank, int layerCount)
    {
        _modules = modules;
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

    /// <summary>The graph inputs and their values, to bind once.</summary>
    public IEnumerable<(string Name, OrtValue Value)> Inputs =>
        _modules.SelectMany(m => new[] { (LoraGraphNames.A(m.Layer, m.Target), m.AValue), (LoraGraphNames.B(m.Layer, m.Target), m.BValue) });

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
                    modules.Add(new Module(layer, target, a.Dimensions[0], b.Dimensions[2], slotCount, rank));
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
                    return $"adapter '{adapter.Directory}' adapts {LoraTargets.PeftName(target)}, which the model's graph does not take adapters on (it was built with --lora {string.Join(',', Targets.Select(LoraTargets.PeftName))}; rebuild with make-model --lora all)";
                }

                if (w.InCount != m.InCount || w.OutCount != m.OutCount)
                {
                    return $"adapter '{adapter.Directory}': layer {layer} {LoraTargets.PeftName(target)} is [{w.InCount} -> {w.OutCount}], the model's is [{m.InCount} -> {m.OutCount}]";
                }
            }
        }

        return null;
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
    }

    /// <summary>Zeros <paramref name="slot"/> (it then adds nothing).</summary>
    public void Clear(int slot)
    {
        foreach (var m in _modules)
        {
            m.Clear(slot);
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
        private readonly float* _a; // [in, slots, rank]
        private readonly float* _b; // [slots, rank, out]
        private readonly int _slots, _rank;

        public Module(int layer, LoraTarget target, long inCount, long outCount, int slots, int rank)
        {
            (Layer, Target, InCount, OutCount, _slots, _rank) = (layer, target, checked((int)inCount), checked((int)outCount), slots, rank);
            var aCount = (nuint)((long)InCount * slots * rank);
            var bCount = (nuint)((long)slots * rank * OutCount);
            _a = (float*)NativeMemory.AllocZeroed(aCount, sizeof(float));
            _b = (float*)NativeMemory.AllocZeroed(bCount, sizeof(float));
            AValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Float, [InCount, slots, rank], (nint)_a, (long)aCount * sizeof(float));
            BValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Float, [slots, rank, OutCount], (nint)_b, (long)bCount * sizeof(float));
        }

        public int Layer { get; }

        public LoraTarget Target { get; }

        public int InCount { get; }

        public int OutCount { get; }

        public OrtValue AValue { get; }

        public OrtValue BValue { get; }

        public void Write(int slot, LoraWeights w)
        {
            // A[i, slot, j] = lora_A[j, i]; B[slot, j, o] = scale * lora_B[o, j].
            for (var i = 0; i < InCount; i++)
            {
                var row = _a + (((long)i * _slots) + slot) * _rank;
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
            for (var i = 0; i < InCount; i++)
            {
                new Span<float>(_a + (((long)i * _slots) + slot) * _rank, _rank).Clear();
            }

            new Span<float>(_b + ((long)slot * _rank * OutCount), _rank * OutCount).Clear();
        }

        public void Dispose()
        {
            AValue.Dispose();
            BValue.Dispose();
            NativeMemory.Free(_a);
            NativeMemory.Free(_b);
        }
    }
}
