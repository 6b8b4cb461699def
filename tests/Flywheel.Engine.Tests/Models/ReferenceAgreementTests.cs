using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// ONNX Runtime's logits for the built graph match a plain double-precision forward pass of the LLaMA
/// architecture: for prompts, decode steps on the shared-buffer KV cache, chunks on top of a past, and a
/// batch of decode rows with different past lengths. Relative error = max|ort - ref| / max|ref| per row.
/// </summary>
public sealed class ReferenceAgreementTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly GenAiConfig _config;
    private readonly InferenceSession _session;
    private readonly KvCache _cache;
    private readonly DecoderRunner _runner;

    public ReferenceAgreementTests()
    {
        _config = GenAiConfig.Load(Path.Combine(TinyModel.Dir, "genai_config.json"));
        using var options = OnnxEnvironment.CreateSessionOptions();
        _session = new InferenceSession(Path.Combine(TinyModel.Dir, "model.onnx"), options);
        var d = _config.Decoder;
        _cache = new KvCache(d.NumHiddenLayers, slotCount: 4, d.NumKeyValueHeads, _config.ContextLength, d.HeadSize);
        _runner = new DecoderRunner(_session, _config, _cache, maxTokensPerRun: 64);
    }

    public void Dispose()
    {
        _runner.Dispose();
        _cache.Dispose();
        _session.Dispose();
    }

    private ReferenceModel NewReference() => new(Path.Combine(TinyModel.Dir, "model.onnx"), _config);

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }

        Assert.True(maxDiff / maxRef < Tolerance, $"{what}: relative error {maxDiff / maxRef:E2} (max |ref| {maxRef:F3})");
    }

    private ReadOnlySpan<float> Run(int slot, int[] tokens, int past) =>
        _runner.Run(slot, 1, tokens.Length, tokens.Select(t => (long)t).ToArray(), new[] { past }, new[] { tokens.Length });

    [Fact]
    public void PromptDecodeAndChunkMatchTheReference()
    {
        var vocab = _config.VocabSize;
        var reference = NewReference();
        int[] prompt = [5, 17, 42, 7, 250, 3];
        var expected = reference.Forward(prompt);
        var logits = Run(0, prompt, 0);
        for (var t = 0; t < prompt.Length; t++)
        {
            AssertClose(expected[t], logits.Slice(t * vocab, vocab), $"prompt position {t}");
        }

        var past = prompt.Length;
        foreach (var token in new[] { 11, 99, 123 })
        {
            var exp = reference.Forward([token])[0];
            AssertClose(exp, Run(0, [token], past), $"decode at {past}");
            past++;
        }

        int[] chunk = [8, 9, 10, 11];
        var chunkExpected = reference.Forward(chunk);
        var chunkLogits = Run(0, chunk, past);
        for (var t = 0; t < chunk.Length; t++)
        {
            AssertClose(chunkExpected[t], chunkLogits.Slice(t * vocab, vocab), $"chunk position {t}");
        }
    }

    [Fact]
    public void DecodeBatchWithDifferentPastLengthsMatchesSingleRows()
    {
        var vocab = _config.VocabSize;
        int[][] prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11]];
        var references = prompts.Select(_ => NewReference()).ToArray();
        for (var r = 0; r < prompts.Length; r++)
        {
            references[r].Forward(prompts[r]);
            Run(r, prompts[r], 0);
        }

        int[] next = [20, 21, 22];
        var logits = _runner.Run(0, 3, 1, next.Select(t => (long)t).ToArray(), prompts.Select(p => p.Length).ToArray(), new[] { 1, 1, 1 });
        for (var r = 0; r < prompts.Length; r++)
        {
            AssertClose(references[r].Forward([next[r]])[0], logits.Slice(r * vocab, vocab), $"row {r}");
        }
    }

    [Fact]
    public void RightPaddedFirstChunksShareARunAndLeaveACacheThatDecodesCorrectly()
    {
        // The engine's batched admission: first chunks of several prompts in one Run, padded to the longest.
        // The padding's keys/values land past each row's length and must never be read.
        var vocab = _config.VocabSize;
        int[][] prompts = [[3, 1, 4, 1, 5, 9, 2], [6, 5], [3, 5, 8, 9, 7]];
        const int width = 7;
        var ids = new long[prompts.Length * width];
        for (var r = 0; r < prompts.Length; r++)
        {
            for (var i = 0; i < prompts[r].Length; i++)
            {
                ids[(r * width) + i] = prompts[r][i];
            }

            for (var i = prompts[r].Length; i < width; i++)
            {
                ids[(r * width) + i] = 77; // padding: any token, it must not matter
            }
        }

        var references = prompts.Select(_ => NewReference()).ToArray();
        var logits = _runner.Run(1, prompts.Length, width, ids, new int[prompts.Length], prompts.Select(p => p.Length).ToArray()).ToArray();
        for (var r = 0; r < prompts.Length; r++)
        {
            var expected = references[r].Forward(prompts[r]);
            for (var t = 0; t < prompts[r].Length; t++)
            {
                AssertClose(expected[t], logits.AsSpan(((r * width) + t) * vocab, vocab), $"row {r} position {t}");
            }
        }

        // Two decode steps over the same slots: each row attends to its own prompt only.
        for (var step = 0; step < 2; step++)
        {
            int[] next = [30 + step, 40 + step, 50 + step];
            var past = prompts.Select(p => p.Length + step).ToArray();
            var decoded = _runner.Run(1, 3, 1, next.Select(t => (long)t).ToArray(), past, new[] { 1, 1, 1 });
            for (var r = 0; r < prompts.Length; r++)
            {
                AssertClose(references[r].Forward([next[r]])[0], decoded.Slice(r * vocab, vocab), $"row {r} decode {step}");
            }
        }

        Assert.Equal(1, _runner.KvViewSetCount); // the chunk and both decodes ran over one slot range: one set of KV views
    }

    [Fact]
    public void AMixedRunOfDecodeRowsAndAChunkOverItsPastMatchesTheReference()
    {
        // The FlyWheel step as one Run: slots 0-1 decode one token each, slot 3 adds a chunk on top of its
        // own past, all through one graph whose MatMuls see the three streams' tokens together.
        var vocab = _config.VocabSize;
        using var options = OnnxEnvironment.CreateSessionOptions();
        using var mixedSession = new InferenceSession(Path.Combine(TinyModel.Dir, ModelFolder.MixedFileName), options);
        using var runner = new DecoderRunner(_session, _config, _cache, maxTokensPerRun: 64, mixedSession);
        Assert.True(runner.CanRunMixed);
        int[][] prompts = [[3, 1, 4, 1, 5], [9, 2, 6], [], [5, 3, 5, 8]];
        var references = prompts.Select(_ => NewReference()).ToArray();
        foreach (var slot in new[] { 0, 1, 3 })
        {
            runner.Run(slot, 1, prompts[slot].Length, prompts[slot].Select(t => (long)t).ToArray(), [0], [prompts[slot].Length]);
            references[slot].Forward(prompts[slot]);
        }

        for (var step = 0; step < 2; step++)
        {
            int[] next = [20 + step, 30 + step];
            int[] chunk = step == 0 ? [7, 9, 7, 2, 1, 6] : [11, 12];
            var chunkPast = prompts[3].Length + (step == 0 ? 0 : 6);
            var logits = runner.RunMixed(0, 2, next.Select(t => (long)t).ToArray(), [prompts[0].Length + step, prompts[1].Length + step], 3, chunk.Select(t => (long)t).ToArray(), chunkPast);
            Assert.Equal((2 + chunk.Length) * vocab, logits.Length);
            for (var r = 0; r < 2; r++)
            {
                AssertClose(references[r].Forward([next[r]])[0], logits.Slice(r * vocab, vocab), $"step {step} decode row {r}");
            }

            var expected = references[3].Forward(chunk);
            for (var t = 0; t < chunk.Length; t++)
            {
                AssertClose(expected[t], logits.Slice((2 + t) * vocab, vocab), $"step {step} chunk position {t}");
            }
        }

        // The same cache goes on decoding through the plain graph: the mixed Runs wrote every position in place.
        var after = runner.Run(3, 1, 1, [13], [prompts[3].Length + 8], [1]).ToArray();
        AssertClose(references[3].Forward([13])[0], after, "plain decode after the mixed Runs");
    }
}
