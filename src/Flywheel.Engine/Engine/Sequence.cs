using System.Diagnostics;
using System.Threading.Channels;
using Flywheel.Sampling;

namespace Flywheel.Execution;

/// <summary>
/// One request's state inside the engine, from submission to its finish event: its tokens (prompt, then
/// generated), how many of them are in the KV cache, its slot, sampler and timings. Created on the
/// submitting thread; from then on only the engine thread touches it. The scheduler, slot table, run
/// planner and model runner all work on it directly.
/// </summary>
internal sealed class Sequence(long id, EngineRequest request, ChannelWriter<EngineEvent> output, long arrivalTimestamp)
{
    public long Id { get; } = id;

    public EngineRequest Request { get; } = request;

    /// <summary>The request's event stream (tokens, then one finish event).</summary>
    public ChannelWriter<EngineEvent> Output { get; } = output;

    public long ArrivalTimestamp { get; } = arrivalTimestamp;

    /// <summary>Prompt tokens followed by generated ones.</summary>
    public List<int> Tokens { get; } = [.. request.PromptIds];

    public int PromptLength { get; } = request.PromptIds.Count;

    public int GeneratedCount => Tokens.Count - PromptLength;

    /// <summary>
    /// Tokens whose keys and values are in the KV cache. Below <see cref="PromptLength"/> the prompt is still
    /// being fed in chunks; from there on, one per decode step (the newest sampled token is not in yet).
    /// </summary>
    public int ComputedTokenCount { get; set; }

    public bool IsPrefilling => ComputedTokenCount < PromptLength;

    /// <summary>The KV slot (see <see cref="SlotTable"/>); -1 until admitted.</summary>
    public int Slot { get; set; } = -1;

    /// <summary>The LoRA adapter slot the request runs with (0 = the base model).</summary>
    public int AdapterSlot => Request.AdapterSlot;

    /// <summary>The adapter slot's load count when the request was accepted: a later unload makes it stale (see LlmEngine.Adapters.cs).</summary>
    public int AdapterGeneration { get; init; }

    /// <summary>Whether the slot is in the decode region [0, D) (the prompt is done and the KV moved there).</summary>
    public bool InDecodeRegion { get; set; }

    /// <summary>Picks tokens; created at admission, since it holds vocabulary-sized buffers a waiting request does not need.</summary>
    public TokenSampler Sampler { get; private set; } = null!;

    /// <summary>[MaskLength] the constraint's allowed-token bitmask, allocated on the first constrained token.</summary>
    public uint[]? Mask { get; set; }

    public long AdmittedTimestamp { get; private set; }

    public long FirstTokenTimestamp { get; set; }

    public long LastTokenTimestamp { get; set; }

    /// <summary>Set once the request ended (its finish event waits for the end of the step).</summary>
    public FinishEvent? Finished { get; set; }

    public void Admit(int vocabSize)
    {
        Sampler = new TokenSampler(vocabSize, Request.Sampling, Request.PromptIds);
        AdmittedTimestamp = Stopwatch.GetTimestamp();
    }
}
