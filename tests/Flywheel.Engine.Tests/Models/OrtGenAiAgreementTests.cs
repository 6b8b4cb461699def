using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx;
using Flywheel.Tokenization;
using Microsoft.ML.OnnxRuntimeGenAI;
using Tokenizer = Flywheel.Tokenization.Tokenizer;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// ORT GenAI 0.20 (its own config reader, session setup, KV handling and greedy search) loads the folders
/// <c>flywheel make-model</c> writes and picks the same greedy tokens as Flywheel for the same prompt ids:
/// the folders are ORT GenAI folders, and the engine computes what ORT GenAI computes. Token ids only: ORT
/// GenAI's tokenizer is not a reference (see docs/decisions/0004). ORT GenAI loads libonnxruntime.so by
/// name, the one Microsoft.ML.OnnxRuntime 1.32.0 put next to the tests, in this same process.
/// </summary>
public sealed class OrtGenAiAgreementTests
{
    private const int NewTokens = 12;

    public static TheoryData<string> Folders => new() { "tiny", "llama3", "qwen3", "tiny-int4", "llama3-int4", "tiny-fp16", "tiny-int4-external" };

    [Theory]
    [MemberData(nameof(Folders))]
    public void OrtGenAiLoadsTheFolderAndPicksTheSameGreedyTokens(string which)
    {
        // The engine's environment first (with global thread pools); ORT GenAI then shares the process's one.
        _ = OnnxEnvironment.Instance;
        var dir = Folder(which);
        int[] prompt = [1, 17, 42, 5, 99, 23, 8];

        using var folder = ModelFolder.Open(dir);
        using var generator = new TextGenerator(folder, Tokenizer.Load(folder.TokenizerPath));
        var ours = generator.Generate(prompt, new GenerateParams { MaxTokens = NewTokens, IgnoreEos = true }).TokenIds;
        Assert.Equal(NewTokens, ours.Count);

        var theirs = OrtGenAiGreedy(dir, prompt, NewTokens);
        Assert.NotEmpty(theirs); // ORT GenAI stops early only at an end-of-sequence token
        Assert.Equal(theirs, ours.Take(theirs.Length));
    }

    /// <summary>ORT GenAI's own greedy search: the prompt ids appended, then tokens until max_length or EOS.</summary>
    internal static int[] OrtGenAiGreedy(string dir, int[] prompt, int newTokens)
    {
        using var model = new Model(dir);
        using var search = new GeneratorParams(model);
        search.SetSearchOption("max_length", prompt.Length + newTokens);
        search.SetSearchOption("do_sample", false);
        using var generator = new Generator(model, search);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        return generator.GetSequence(0)[prompt.Length..].ToArray();
    }

    private static readonly Dictionary<string, Lazy<string>> Built = new()
    {
        ["tiny"] = new(() => Write("tiny", null)),
        ["llama3"] = new(() => Write("llama3", Path.Combine(TestAssets.TokenizerModelDir("llama3"), "tokenizer.json"))),
        ["qwen3"] = new(() => Write("qwen3", Path.Combine(TestAssets.TokenizerModelDir("qwen3"), "tokenizer.json"))),

        // What --precision int4 writes (MatMulNBits, block 32, accuracy level 4): the CPU int4 export layout.
        ["tiny-int4"] = new(() => Write("tiny-int4", null, ModelPrecision.Int4)),
        ["llama3-int4"] = new(() => Write("llama3-int4", Path.Combine(TestAssets.TokenizerModelDir("llama3"), "tokenizer.json"), ModelPrecision.Int4)),

        // What --precision fp16 writes: float16 weights, KV cache and logits (the CUDA export layout), here on CPU.
        ["tiny-fp16"] = new(() => Write("tiny-fp16", null, ModelPrecision.Fp16)),

        // Weights in model.onnx.data (ONNX external data), as ORT GenAI writes them.
        ["tiny-int4-external"] = new(() => Write("tiny-int4-external", null, ModelPrecision.Int4, externalData: true)),
    };

    private static string Folder(string which) => Built[which].Value;

    /// <summary>What <c>flywheel make-model --preset tiny [--tokenizer PATH] [--precision P]</c> writes.</summary>
    private static string Write(string name, string? tokenizerJson, ModelPrecision precision = ModelPrecision.Fp32, bool? externalData = null)
    {
        var dir = TestScratch.Path($"genai-{name}-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { Precision = precision, ExternalData = externalData }, tokenizerJson, SyntheticTokenizer.Write);
        return dir;
    }
}
