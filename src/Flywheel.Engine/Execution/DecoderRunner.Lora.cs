using System.Runtime.InteropServices;
using Flywheel.Adapters;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Execution;

/// <summary>
/// The LoRA inputs of a LoRA-capable graph: views of the stacked A/B buffers (<see cref="AdapterSlots"/>)
/// covering the bound slots, rebound only when <see cref="AdapterSlots.BoundSlotCount"/> changes (a load or
/// unload moved the highest loaded slot), and each Run's per-row adapter slot ids, written into a buffer sized once.
/// </summary>
public sealed unsafe partial class DecoderRunner
{
    private readonly AdapterSlots? _adapters;
    private readonly bool _ownsAdapters;
    private long* _adapterIds;        // [MaxTokensPerRun] adapter slot per row of a Run
    private long* _chunkAdapterId;    // [1] the mixed Run's chunk's adapter slot
    private ViewCache<int>? _adapterIdViews;
    private OrtValue? _chunkAdapterIdView;
    private int _graphSlots, _mixedGraphSlots; // slots each graph's A/B views cover (0: none bound yet)

    /// <summary>Whether the graph takes LoRA adapters (it has the inputs <see cref="LoraGraphNames"/> names).</summary>
    public bool HasLoraInputs => _adapters is not null;

    /// <summary>Appends the LoRA input names (slot ids, then A and B per module) when the graph has them.</summary>
    private void AddLoraNames(List<string> inputs, bool mixed)
    {
        if (_adapters is null)
        {
            return;
        }

        if (_adapterIds is null)
        {
            _adapterIds = (long*)NativeMemory.AllocZeroed((nuint)MaxTokensPerRun, sizeof(long));
            _chunkAdapterId = (long*)NativeMemory.AllocZeroed(1, sizeof(long));
            _adapterIdViews = new ViewCache<int>(rows => OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Int64, [rows], (nint)_adapterIds, rows * sizeof(long)));
            _chunkAdapterIdView = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Int64, [1], (nint)_chunkAdapterId, sizeof(long));
        }

        inputs.Add(LoraGraphNames.SlotIds);
        if (mixed)
        {
            inputs.Add(LoraGraphNames.ChunkSlotIds);
        }

        inputs.AddRange(_adapters.InputNames);
    }

    /// <summary>
    /// Binds views of the stacked buffers from input <paramref name="offset"/> on when the bound slot count
    /// changed since this graph's last bind; otherwise binds nothing.
    /// </summary>
    private void BindLoraBuffers(BoundGraph graph, int offset)
    {
        if (_adapters is null)
        {
            return;
        }

        ref var bound = ref graph == _mixedGraph ? ref _mixedGraphSlots : ref _graphSlots;
        var slots = _adapters.BoundSlotCount;
        if (slots == bound)
        {
            return;
        }

        for (var i = 0; i < _adapters.InputCount; i++)
        {
            graph.Bind(offset + i, _adapters.InputView(i, slots), input: true);
        }

        bound = slots;
    }

    /// <summary>Writes and binds a Run's adapter slot ids at input <paramref name="index"/> (mixed: the chunk's next).</summary>
    private void BindAdapterIds(BoundGraph graph, int index, int rowCount, scoped ReadOnlySpan<int> slots, int chunkSlot = -1)
    {
        if (_adapters is null)
        {
            if ((!slots.IsEmpty && slots[..rowCount].ContainsAnyExcept(0)) || chunkSlot > 0)
            {
                throw new InvalidOperationException("the model's graph takes no LoRA adapters");
            }

            return;
        }

        var ids = new Span<long>(_adapterIds, rowCount);
        for (var r = 0; r < rowCount; r++)
        {
            var slot = slots.IsEmpty ? 0 : slots[r];
            if ((uint)slot >= (uint)_adapters.SlotCount)
            {
                throw new ArgumentOutOfRangeException(nameof(slots), $"row {r}: adapter slot {slot} is outside [0, {_adapters.SlotCount})");
            }

            ids[r] = slot;
        }

        graph.Bind(index, _adapterIdViews!.Get(rowCount), input: true);
        if (chunkSlot >= 0)
        {
            if ((uint)chunkSlot >= (uint)_adapters.SlotCount)
            {
                throw new ArgumentOutOfRangeException(nameof(chunkSlot), $"adapter slot {chunkSlot} is outside [0, {_adapters.SlotCount})");
            }

            *_chunkAdapterId = chunkSlot;
            graph.Bind(index + 1, _chunkAdapterIdView!, input: true);
        }

        BindLoraBuffers(graph, index + (graph == _mixedGraph ? 2 : 1));
    }

    private void DisposeLora()
    {
        _adapterIdViews?.Dispose();
        _chunkAdapterIdView?.Dispose();
        NativeMemory.Free(_adapterIds);
        NativeMemory.Free(_chunkAdapterId);
        if (_ownsAdapters)
        {
            _adapters?.Dispose();
        }
    }
}
