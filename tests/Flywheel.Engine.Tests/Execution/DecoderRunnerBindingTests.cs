using Flywheel.Engine.Tests.Models;
using Flywheel.Execution;
using Flywheel.Models;

namespace Flywheel.Engine.Tests.Execution;

/// <summary>
/// The runner's tensors are views made once and bound through one IoBinding: a steady decode (same rows,
/// same slots, past growing by one) binds nothing new and allocates no managed memory per Run, while the
/// logits still follow the tokens fed.
/// </summary>
public sealed class DecoderRunnerBindingTests
{
    [Fact]
    public void SteadyDecodeRunsBindNothingAndAllocateNothing()
    {
        using var folder = ModelFolder.Open(TinyModel.Dir, loadMixed: false);
        var c = folder.Config;
        using var cache = new KvCache(c.Decoder.NumHiddenLayers, 4, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize);
        using var runner = new DecoderRunner(folder.Session, c, cache, maxTokensPerRun: 64);
        long[] prompt = [3, 1, 4, 1, 5];
        for (var slot = 0; slot < 2; slot++)
        {
            runner.Run(slot, 1, prompt.Length, prompt, [0], [prompt.Length]);
        }

        long[] ids = [7, 8];
        int[] past = [prompt.Length, prompt.Length];
        int[] ones = [1, 1];
        void Step()
        {
            var logits = runner.Run(0, 2, 1, ids, past, ones);
            ids[0] = Argmax(logits[..c.VocabSize]);
            ids[1] = Argmax(logits[c.VocabSize..]);
            past[0]++;
            past[1]++;
        }

        for (var i = 0; i < 3; i++)
        {
            Step();
        }

        var binds = runner.BindCount;
        var bytes = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++)
        {
            Step();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - bytes);
        Assert.Equal(binds, runner.BindCount);

        // A different row count is a different shape: new views get bound.
        runner.Run(0, 1, 1, ids, past, ones);
        Assert.True(runner.BindCount > binds);
    }

    [Fact]
    public void SteadyDecodeRunsWithAdaptersBindNothingAndAllocateNothing()
    {
        // The stacked LoRA buffers are bound once; each Run only rewrites the rows' slot ids in place.
        using var folder = ModelFolder.Open(TinyLoraModel.Dir, loadMixed: false);
        var c = folder.Config;
        using var cache = new KvCache(c.Decoder.NumHiddenLayers, 4, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize);
        using var slots = Flywheel.Adapters.AdapterSlots.ForSession(folder.Session, c.Decoder.NumHiddenLayers, slotCount: 3, rank: 4)!;
        slots.Write(1, Flywheel.Adapters.PeftAdapter.Load(Adapters.AdapterFolder.Write(Adapters.AdapterFolder.Config(rank: 4)), Adapters.AdapterFolder.Shape, 4));
        using var runner = new DecoderRunner(folder.Session, c, cache, maxTokensPerRun: 64, adapters: slots);
        long[] ids = [7, 8];
        int[] past = [0, 0];
        int[] ones = [1, 1];
        int[] adapters = [1, 0];
        void Step(int i)
        {
            adapters[0] = i % 2; // the rows' adapters change; their shape does not
            runner.Run(0, 2, 1, ids, past, ones, adapters);
            past[0]++;
            past[1]++;
        }

        for (var i = 0; i < 3; i++)
        {
            Step(i);
        }

        var (binds, bytes) = (runner.BindCount, GC.GetAllocatedBytesForCurrentThread());
        for (var i = 0; i < 20; i++)
        {
            Step(i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - bytes);
        Assert.Equal(binds, runner.BindCount);
    }

    private static long Argmax(ReadOnlySpan<float> row)
    {
        var best = 0;
        for (var i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }
}
