using Flywheel.Adapters;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Engine.Tests.Models.Import;

/// <summary>
/// A decoder runner over an imported LoRA folder's model.onnx with two KV rows and <paramref name="adapter"/> in
/// slot 1 (slot 0 is the base), so that one Run can hold a row on the adapter beside a row on the base.
/// </summary>
internal sealed class AdapterRowRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly KvCache _cache;
    private readonly AdapterSlots _slots;

    public AdapterRowRunner(string folder, GenAiConfig config, PeftAdapter adapter)
    {
        using var options = OnnxEnvironment.CreateSessionOptions();
        _session = new InferenceSession(Path.Combine(folder, "model.onnx"), options);
        var d = config.Decoder;
        _cache = new KvCache(d.NumHiddenLayers, 2, d.NumKeyValueHeads, config.ContextLength, d.HeadSize);
        _slots = AdapterSlots.ForSession(_session, d.NumHiddenLayers, slotCount: 2, rank: 8)!;
        Assert.Null(_slots.Refusal(adapter));
        _slots.Write(1, adapter);
        Runner = new DecoderRunner(_session, config, _cache, maxTokensPerRun: 64, adapters: _slots);
    }

    public DecoderRunner Runner { get; }

    public void Dispose()
    {
        Runner.Dispose();
        _slots.Dispose();
        _cache.Dispose();
        _session.Dispose();
    }
}
