using System.Diagnostics;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Sampling;
using Flywheel.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Flywheel.Benchmarks;

/// <summary>
/// Single-stream decode speed of <see cref="TextGenerator"/> (what <c>flywheel generate</c> runs) against a
/// bare ONNX Runtime loop on the same model: one session, tensors created once over the same KV buffers,
/// ids, mask and logits views re-created per step (the managed API's plain Run), argmax, nothing else. Runs alternate, and medians are
/// reported, because this machine is shared and noisy.
/// </summary>
internal sealed class GenerateOverheadBenchmark : IBenchmark
{
    public string Name => "generate-overhead";

    public string Description => "decode tokens/s of generate vs a bare ORT loop [--model DIR] [--tokens N] [--rounds N]";

    public int Run(string[] args)
    {
        string? modelDir = null;
        int tokens = 256, rounds = 5;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": modelDir = args[i + 1]; break;
                case "--tokens": tokens = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        modelDir = BenchModel.FolderOrDefault(modelDir);

        using var model = ModelFolder.Open(modelDir);
        var tokenizer = Tokenizer.Load(model.TokenizerPath);
        var d = model.Config.Decoder;
        Console.WriteLine($"model {modelDir}: {d.NumHiddenLayers} layers, hidden {d.HiddenSize}, vocab {model.Config.VocabSize}; {tokens} decode tokens per run, {rounds} rounds");
        var prompt = new[] { tokenizer.BosTokenId ?? 0, 10, 20, 30 };

        using var generator = new TextGenerator(model, tokenizer);
        using var bare = new BareLoop(model);
        generator.Generate(prompt, new GenerateParams { MaxTokens = 16, IgnoreEos = true });
        bare.Run(prompt, 16);

        var generatorRates = new List<double>();
        var bareRates = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            var result = generator.Generate(prompt, new GenerateParams { MaxTokens = tokens + 1, IgnoreEos = true });
            generatorRates.Add(result.DecodeTokensPerSecond);
            bareRates.Add(bare.Run(prompt, tokens));
            Console.WriteLine($"  round {r + 1}: generate {generatorRates[^1]:F1} tok/s, bare ORT {bareRates[^1]:F1} tok/s");
        }

        var (g, b) = (BenchStats.Median(generatorRates), BenchStats.Median(bareRates));
        Console.WriteLine($"median decode tokens/s: generate {g:F1}, bare ORT loop {b:F1}; overhead {(1 - (g / b)) * 100:F2}%");
        return 0;
    }

    /// <summary>The least a decode loop can do with this graph: KV tensors made once, one Run per token, argmax.</summary>
    private sealed unsafe class BareLoop : IDisposable
    {
        private readonly ModelFolder _model;
        private readonly KvCache _cache;
        private readonly RunOptions _runOptions = new();
        private readonly string[] _inputNames, _outputNames;
        private readonly long[] _ids = new long[64];
        private readonly long[] _mask;
        private readonly float[] _logits;

        public BareLoop(ModelFolder model)
        {
            _model = model;
            var c = model.Config;
            _cache = new KvCache(c.Decoder.NumHiddenLayers, 1, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize, model.KvElementType);
            var inputs = new List<string> { "input_ids", "attention_mask" };
            var outputs = new List<string> { "logits" };
            for (var l = 0; l < c.Decoder.NumHiddenLayers; l++)
            {
                inputs.AddRange([$"past_key_values.{l}.key", $"past_key_values.{l}.value"]);
                outputs.AddRange([$"present.{l}.key", $"present.{l}.value"]);
            }

            (_inputNames, _outputNames) = (inputs.ToArray(), outputs.ToArray());
            _mask = Enumerable.Repeat(1L, c.ContextLength).ToArray();
            _logits = new float[64 * c.VocabSize];
        }

        /// <summary>Prefills <paramref name="prompt"/>, then decodes <paramref name="count"/> tokens; returns decode tokens/s.</summary>
        public double Run(int[] prompt, int count)
        {
            var c = _model.Config;
            var layers = c.Decoder.NumHiddenLayers;
            var inputs = new OrtValue[2 + (2 * layers)];
            var outputs = new OrtValue[1 + (2 * layers)];
            for (var l = 0; l < layers; l++)
            {
                inputs[2 + (2 * l)] = Kv(_cache.Keys(l, 0));
                inputs[3 + (2 * l)] = Kv(_cache.Values(l, 0));
                outputs[1 + (2 * l)] = Kv(_cache.Keys(l, 0));
                outputs[2 + (2 * l)] = Kv(_cache.Values(l, 0));
            }

            var vocab = c.VocabSize;
            fixed (long* ids = _ids, mask = _mask)
            fixed (float* logits = _logits)
            {
                for (var i = 0; i < prompt.Length; i++)
                {
                    ids[i] = prompt[i];
                }

                Step(inputs, outputs, ids, mask, logits, prompt.Length, prompt.Length);
                var next = TokenSampler.Argmax(new ReadOnlySpan<float>(logits + ((prompt.Length - 1) * vocab), vocab));
                var clock = Stopwatch.StartNew();
                for (var t = 0; t < count; t++)
                {
                    ids[0] = next;
                    Step(inputs, outputs, ids, mask, logits, 1, prompt.Length + t + 1);
                    next = TokenSampler.Argmax(new ReadOnlySpan<float>(logits, vocab));
                }

                var seconds = clock.Elapsed.TotalSeconds;
                foreach (var v in inputs.Skip(2).Concat(outputs.Skip(1)))
                {
                    v.Dispose();
                }

                return count / seconds;
            }
        }

        private OrtValue Kv(byte* data) =>
            OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, _cache.ElementType,
                [1, _cache.KvHeadCount, _cache.MaxLength, _cache.HeadSize], (nint)data, _cache.SlotElementCount * _cache.ElementSize);

        private void Step(OrtValue[] inputs, OrtValue[] outputs, long* ids, long* mask, float* logits, int tokens, int total)
        {
            var vocab = _model.Config.VocabSize;
            using var idsValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Int64, [1, tokens], (nint)ids, tokens * sizeof(long));
            using var maskValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Int64, [1, total], (nint)mask, total * sizeof(long));
            using var logitsValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [1, tokens, vocab], (nint)logits, (long)tokens * vocab * sizeof(float));
            inputs[0] = idsValue;
            inputs[1] = maskValue;
            outputs[0] = logitsValue;
            _model.Session.Run(_runOptions, _inputNames, inputs, _outputNames, outputs);
        }

        public void Dispose()
        {
            _runOptions.Dispose();
            _cache.Dispose();
        }
    }
}
