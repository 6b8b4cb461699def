using Flywheel.Engine.Tests.Engine;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx;
using Flywheel.Scheduling;
using Flywheel.Tokenization;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// A folder whose KV cache and logits are float16 (the CUDA export layout) while its weights and arithmetic
/// stay float32 (<see cref="ModelBuilderOptions.Fp16Io"/>): the engine reads both element types from the
/// session, keeps a float16 cache, widens the logits for the sampler, and gives what its fp32 twin (same
/// weights) gives.
/// </summary>
public sealed class Fp16IoTests
{
    private const int NewTokens = 100;

    private static readonly Lazy<string> Fp16Dir = new(() => Write("fp16io", fp16: true));
    private static readonly Lazy<string> Fp32Dir = new(() => Write("fp32twin", fp16: false));

    private static string Write(string name, bool fp16)
    {
        var dir = TestScratch.Path($"{name}-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { Fp16Io = fp16 }, tokenizerJsonPath: null, SyntheticTokenizer.Write);
        return dir;
    }

    [Fact]
    public void TheFolderOpensWithItsElementTypesReadFromTheSession()
    {
        using var fp16 = ModelFolder.Open(Fp16Dir.Value);
        Assert.Equal(OrtElementType.Float16, fp16.KvElementType);
        Assert.Equal(OrtElementType.Float16, fp16.LogitsElementType);
        using var fp32 = ModelFolder.Open(Fp32Dir.Value);
        Assert.Equal(OrtElementType.Float, fp32.KvElementType);
        Assert.Equal(OrtElementType.Float, fp32.LogitsElementType);
    }

    [Fact]
    public void LogitsMatchTheFp32TwinWithinFp16Rounding()
    {
        using var fp16 = new Decoder(Fp16Dir.Value);
        using var fp32 = new Decoder(Fp32Dir.Value);
        long[] prompt = [1, 17, 42, 5, 99, 23, 8, 200, 3];
        var worst = 0.0;
        var a = fp16.Runner.Run(0, 1, prompt.Length, prompt, [0], [prompt.Length]).ToArray();
        var b = fp32.Runner.Run(0, 1, prompt.Length, prompt, [0], [prompt.Length]).ToArray();
        worst = Math.Max(worst, Compare(a, b));
        long next = TokenSamplerArgmax(b.AsSpan(b.Length - fp32.Vocab));
        for (var step = 0; step < 40; step++)
        {
            var past = prompt.Length + step;
            a = fp16.Runner.Run(0, 1, 1, [next], [past], [1]).ToArray();
            b = fp32.Runner.Run(0, 1, 1, [next], [past], [1]).ToArray();
            worst = Math.Max(worst, Compare(a, b));
            next = TokenSamplerArgmax(b);
        }

        Assert.True(worst > 0, "the fp16 logits should differ from fp32 by their rounding");
        Assert.True(worst <= Tolerance, $"worst logit difference relative to the row's largest magnitude: {worst:E2}");
    }

    /// <summary>
    /// Worst |fp16 - fp32| over a row, relative to the row's largest |logit|. Rounding a logit to fp16 costs at
    /// most 2^-11 (4.9e-4) of its magnitude; q, K, V, the rotary caches and the attention output rounded to
    /// fp16 perturb the hidden state before lm_head by less again (measured worst over 41 Runs: 6.5e-4 in all).
    /// 1.5e-3 is three half-ulps: the rounding itself plus the attention's share, with room.
    /// </summary>
    private const double Tolerance = 1.5e-3;

    private static double Compare(float[] a, float[] b)
    {
        Assert.Equal(b.Length, a.Length);
        var scale = b.Max(Math.Abs);
        var worst = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(a[i] - b[i]) / scale);
        }

        return worst;
    }

    private static int TokenSamplerArgmax(ReadOnlySpan<float> row) => Flywheel.Sampling.TokenSampler.Argmax(row);

    [Fact]
    public async Task GreedyTokensThroughTheEngineEqualTheFp32Twin()
    {
        int[][] prompts = [[1, 17, 42, 5, 99, 23, 8], [3, 1, 4, 1, 5, 9, 2, 6], [250, 7], [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], [400, 300, 200, 100], [77]];
        var horizons = prompts.Select(p => DecidableSteps(p)).ToArray();
        using var fp16 = ModelFolder.Open(Fp16Dir.Value);
        using var fp32 = ModelFolder.Open(Fp32Dir.Value);
        var options = new EngineOptions { ChunkSize = 4, MaxBatchTokens = 16, MaxRunningRequests = 4 };
        var expected = await Generate(fp32, options, prompts);
        Assert.All(expected, e => Assert.Equal(NewTokens, e.Count));

        // Batched: the requests share decode Runs and mixed Runs (decodes and a chunk) of the fp16 graphs.
        var batched = await Generate(fp16, options with { MixedRuns = true }, prompts);
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i].Take(horizons[i]), batched[i].Take(horizons[i]));

            // Alone: one request at a time; all its tokens are the batched ones (same fp16 arithmetic per row).
            var alone = (await Generate(fp16, options with { MaxRunningRequests = 1 }, [prompts[i]]))[0];
            Assert.Equal(batched[i], alone);
        }

        // The seeded tiny model's near-ties are known: 239 of the 600 steps come before them, one prompt's 93.
        Assert.True(horizons.Sum() >= 200 && horizons.Max() >= 90, $"greedy steps compared per prompt: {string.Join(", ", horizons)}");
    }

    /// <summary>
    /// Greedy steps of the fp32 twin (from <paramref name="prompt"/>) before the first whose best two logits are
    /// closer than twice the tolerance: beyond such a near-tie (the tiny model has some: 12.11199 vs 12.108578,
    /// which are the same float16) the fp16 model may rightly pick the other token, and the sequences part.
    /// </summary>
    private static int DecidableSteps(int[] prompt)
    {
        using var d = new Decoder(Fp32Dir.Value);
        var ids = prompt.Select(t => (long)t).ToArray();
        var row = d.Runner.Run(0, 1, ids.Length, ids, [0], [ids.Length]).ToArray()[^d.Vocab..];
        for (var step = 0; step < NewTokens; step++)
        {
            var best = TokenSamplerArgmax(row);
            var second = row.Where((_, i) => i != best).Max();
            if (row[best] - second <= 2 * Tolerance * row.Max(Math.Abs))
            {
                return step;
            }

            row = d.Runner.Run(0, 1, 1, [best], [ids.Length + step], [1]).ToArray();
        }

        return NewTokens;
    }

    private static async Task<List<int>[]> Generate(ModelFolder model, EngineOptions options, int[][] prompts)
    {
        using var engine = new LlmEngine(model, options);
        var runs = prompts.Select(p => EngineEvents.Collect(engine.TrySubmit(new EngineRequest { PromptIds = p, MaxTokens = NewTokens, IgnoreEos = true }))).ToList();
        return [.. (await Task.WhenAll(runs)).Select(r => r.Tokens)];
    }

    [Fact]
    public void SteadyFp16DecodeRunsAllocateNothing()
    {
        using var d = new Decoder(Fp16Dir.Value);
        long[] prompt = [3, 1, 4, 1, 5];
        d.Runner.Run(0, 1, prompt.Length, prompt, [0], [prompt.Length]);
        long[] ids = [7];
        int[] past = [prompt.Length];
        int[] one = [1];
        void Step()
        {
            ids[0] = TokenSamplerArgmax(d.Runner.Run(0, 1, 1, ids, past, one));
            past[0]++;
        }

        for (var i = 0; i < 3; i++)
        {
            Step();
        }

        var bytes = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++)
        {
            Step();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - bytes);
    }

    [Fact]
    public void ACacheOfAnotherElementTypeIsRefusedByName()
    {
        using var folder = ModelFolder.Open(Fp16Dir.Value, loadMixed: false);
        var c = folder.Config;
        using var cache = new KvCache(c.Decoder.NumHiddenLayers, 2, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize);
        var e = Assert.Throws<ArgumentException>(() => new DecoderRunner(folder.Session, c, cache, maxTokensPerRun: 16));
        Assert.Contains("past_key_values.0.key", e.Message);
        Assert.Contains("Float16", e.Message);
    }

    [Fact]
    public void LogitsOfATypeTheEngineCannotReadAreRefusedByName()
    {
        // The fp16 folder with its last Cast writing double logits: ONNX Runtime runs it, the engine refuses it.
        var dir = TestScratch.Path("double-logits-" + Guid.NewGuid().ToString("N"));
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { Fp16Io = true }, tokenizerJsonPath: null, SyntheticTokenizer.Write);
        var path = Path.Combine(dir, "model.onnx");
        var model = Flywheel.Onnx.Proto.OnnxModel.Load(path);
        var g = model.Graph;
        var cast = g.Nodes.FindIndex(n => n.Name == "/lm_head/Cast");
        g.Nodes[cast] = g.Nodes[cast] with { Attributes = [Flywheel.Onnx.Proto.OnnxAttribute.Int("to", (long)Flywheel.Onnx.TensorElementType.Double)] };
        var logits = g.Outputs.FindIndex(o => o.Name == "logits");
        g.Outputs[logits] = g.Outputs[logits] with { DataType = Flywheel.Onnx.TensorElementType.Double };
        model.Save(path);
        var e = Assert.Throws<ModelConfigException>(() => ModelFolder.Open(dir).Dispose());
        Assert.Contains("'logits'", e.Message);
        Assert.Contains("Double", e.Message);
        Assert.Contains("Float or Float16", e.Message);
    }

    [Fact]
    public void OrtGenAiLoadsTheFp16FolderAndPicksTheSameGreedyTokens()
    {
        _ = OnnxEnvironment.Instance;
        int[] prompt = [1, 17, 42, 5, 99, 23, 8];
        using var folder = ModelFolder.Open(Fp16Dir.Value);
        using var generator = new TextGenerator(folder, Tokenizer.Load(folder.TokenizerPath));
        var ours = generator.Generate(prompt, new GenerateParams { MaxTokens = 24, IgnoreEos = true }).TokenIds;
        var theirs = OrtGenAiAgreementTests.OrtGenAiGreedy(Fp16Dir.Value, prompt, 24);
        Assert.NotEmpty(theirs);
        Assert.Equal(theirs, ours.Take(theirs.Length));
    }

    /// <summary>A runner over one folder's decoder with a cache of the folder's KV element type.</summary>
    internal sealed class Decoder : IDisposable
    {
        private readonly ModelFolder _folder;
        private readonly KvCache _cache;

        public Decoder(string dir)
        {
            _folder = ModelFolder.Open(dir, loadMixed: false);
            var d = _folder.Config.Decoder;
            _cache = new KvCache(d.NumHiddenLayers, 1, d.NumKeyValueHeads, _folder.Config.ContextLength, d.HeadSize, _folder.KvElementType);
            Runner = new DecoderRunner(_folder.Session, _folder.Config, _cache, maxTokensPerRun: 64);
        }

        public DecoderRunner Runner { get; }

        public int Vocab => _folder.Config.VocabSize;

        public Microsoft.ML.OnnxRuntime.Tensors.TensorElementType KvElementType => _folder.KvElementType;

        public void Dispose()
        {
            Runner.Dispose();
            _cache.Dispose();
            _folder.Dispose();
        }
    }
}
