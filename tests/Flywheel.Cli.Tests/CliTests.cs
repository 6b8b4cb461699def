using System.Text.Json;
using static Flywheel.Cli.Tests.CliRunner;

namespace Flywheel.Cli.Tests;

public sealed class CliTests
{
    private static readonly Lazy<string> Model = new(() =>
    {
        var dir = TestScratch.Path("cli-" + Environment.ProcessId);
        var (code, _, err) = Run("make-model", "--preset", "tiny", "--out", dir, "--vocab", "400", "--seed", "7");
        Assert.True(code == 0, err);
        return dir;
    });

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("generate", "--model")]
    [InlineData("generate", "--prompt", "x")]
    [InlineData("generate", "--model", "m", "--prompt", "x", "--max-tokens", "zero")]
    [InlineData("generate", "--model", "m", "--prompt", "x", "--temprature", "1")]
    [InlineData("make-model", "--preset", "huge", "--out", "x")]
    [InlineData("make-model", "--out", "x", "--hidden", "63")]
    [InlineData("make-model", "--out", "x", "--precision", "int3")]
    [InlineData("import", "--out", "x")]
    [InlineData("import", "--from", "x", "--out", "y", "--precision", "fp8")]
    [InlineData("make-model", "--out", "x", "--precision", "int4", "--block-size", "48")]
    [InlineData("tokenize", "--tokenizer", "t.json")]
    [InlineData("serve", "--port", "70000")]
    [InlineData("serve", "--mixed-runs", "maybe")]
    [InlineData("serve", "--device", "gpu")]
    [InlineData("serve", "--drain-timeout", "-1")]
    [InlineData("generate", "--model", "m", "--prompt", "x", "--device", "tpu")]
    [InlineData("bench", "--model", "m", "--device", "metal")]
    public void BadArgumentsPrintUsageAndExit2(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains("usage:", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void AnFp16FolderWithExternalDataIsWrittenAndGenerates()
    {
        var dir = TestScratch.Path($"cli-fp16-{Guid.NewGuid():N}");
        var (code, stdout, err) = Run("make-model", "--preset", "tiny", "--out", dir, "--precision", "fp16", "--external-data");
        Assert.True(code == 0, err);
        Assert.Contains("fp16 (float16 weights, KV cache and logits), weights in model.onnx.data", stdout);
        Assert.True(File.Exists(Path.Combine(dir, "model.onnx.data")));
        (code, stdout, err) = Run("generate", "--model", dir, "--prompt", "a b", "--max-tokens", "5", "--ignore-eos");
        Assert.True(code == 0, err);
        Assert.Contains("completion_tokens=5", stdout + err);
    }

    [Fact]
    public void BenchWritesOneRecordPerMixAndPolicyWithItsOwnCeiling()
    {
        var output = TestScratch.Path($"bench-{Guid.NewGuid():N}.json");
        var (code, stdout, err) = Run("bench", "--model", Model.Value, "--mixes", "balanced,generation-heavy", "--policies", "flywheel,sequential",
            "--requests", "3", "--max-batch-tokens", "32", "--chunk-size", "16", "--max-running", "4", "--repeat", "2", "--out", output);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(output));
        var records = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(["balanced/flywheel", "balanced/sequential", "generation-heavy/flywheel", "generation-heavy/sequential"],
            records.Select(r => r.GetProperty("mix").GetString() + "/" + r.GetProperty("policy").GetString()));
        foreach (var r in records)
        {
            Assert.Equal(3, r.GetProperty("requests").GetInt32());
            Assert.True(r.GetProperty("total_tokens_per_s").GetDouble() > r.GetProperty("output_tokens_per_s").GetDouble());
            Assert.True(r.GetProperty("ceiling_tokens_per_s").GetDouble() > 0);
            Assert.True(r.GetProperty("e2e_p99_s").GetDouble() >= r.GetProperty("ttft_p50_s").GetDouble());
            // Two repeats, each with its own ceiling; the record's efficiency is their median.
            Assert.Equal(2, r.GetProperty("repeats").GetInt32());
            var runs = r.GetProperty("efficiency_runs").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(2, runs.Length);
            Assert.InRange(Math.Abs(runs.Average() - r.GetProperty("efficiency").GetDouble()), 0, 1e-3); // the runs are rounded to 4 places
        }

        Assert.Contains("balanced/flywheel (repeat 2 of 2): ceiling", stdout);
        Assert.Contains("generation-heavy  sequential median", stdout);
    }

    [Fact]
    public void MaxModelLenLimitsTheContextAndCannotExceedTheModels()
    {
        var (code, stdout, err) = Run("bench", "--model", Model.Value, "--mixes", "balanced", "--policies", "flywheel",
            "--requests", "2", "--max-batch-tokens", "32", "--chunk-size", "16", "--max-running", "2", "--max-model-len", "96");
        Assert.True(code == 0, err);
        Assert.Contains(", context 96", stdout);

        (code, _, err) = Run("generate", "--model", Model.Value, "--prompt", "x", "--max-model-len", "100000000");
        Assert.Equal(2, code);
        Assert.Contains("--max-model-len 100000000 is larger than the model's context_length", err);
    }

    [Fact]
    public void AnInt4FolderGeneratesThroughTheEngine()
    {
        // CPU int4 exports keep fp32 KV and logits, so the engine serves them as it serves fp32 folders.
        var dir = TestScratch.Path($"cli-int4-{Environment.ProcessId}");
        var (code, stdout, err) = Run("make-model", "--preset", "tiny", "--out", dir, "--vocab", "400", "--precision", "int4");
        Assert.True(code == 0, err);
        Assert.Contains("int4 (MatMulNBits, block 32, accuracy level 4)", stdout);
        (code, stdout, err) = Run("generate", "--model", dir, "--prompt", "The engine", "--max-tokens", "8", "--ignore-eos");
        Assert.True(code == 0, err);
        Assert.False(string.IsNullOrWhiteSpace(stdout));
    }

    [Fact]
    public void ImportOfAFolderWithoutAConfigNamesWhatIsMissing()
    {
        var dir = Directory.CreateDirectory(TestScratch.Path($"import-empty-{Guid.NewGuid():N}")).FullName;
        var (code, _, err) = Run("import", "--from", dir, "--out", dir + "-out");
        Assert.Equal(1, code);
        Assert.Contains("no config.json", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void NoArgumentsListsCommands()
    {
        var (code, _, err) = Run();
        Assert.Equal(2, code);
        foreach (var command in new[] { "serve", "generate", "make-model", "tokenize", "loadgen" })
        {
            Assert.Contains(command, err);
        }
    }

    [Fact]
    public void MissingModelFolderIsAClearError()
    {
        var (code, _, err) = Run("generate", "--model", "/nonexistent/model", "--prompt", "hi");
        Assert.Equal(1, code);
        Assert.Contains("model folder not found", err);
    }

    [Fact]
    public void CudaDeviceWithoutTheProviderLibraryIsAClearErrorNotACrash()
    {
        if (File.Exists(Path.Combine(AppContext.BaseDirectory, "libonnxruntime_providers_cuda.so")))
        {
            return; // a GPU build of ONNX Runtime is installed here; this test is for hosts without one
        }

        var (code, _, err) = Run("generate", "--model", Model.Value, "--prompt", "hi", "--max-tokens", "2", "--device", "cuda");
        Assert.Equal(1, code);
        Assert.Contains("the CUDA execution provider could not be loaded: ", err);
        Assert.Contains("libonnxruntime_providers_cuda.so", err);
        Assert.DoesNotContain("   at ", err);

        // The same process goes on to serve the CPU.
        Assert.Equal(0, Run("generate", "--model", Model.Value, "--prompt", "hi", "--max-tokens", "2", "--device", "cpu").Code);
    }

    [Fact]
    public void MakeModelThenGenerateIsDeterministicForASeed()
    {
        string[] sampled = ["generate", "--model", Model.Value, "--prompt", "The engine", "--max-tokens", "12", "--temperature", "0.8", "--top-k", "50", "--seed", "42", "--ignore-eos"];
        var first = Run(sampled);
        var second = Run(sampled);
        Assert.Equal(0, first.Code);
        Assert.Equal(first.Out, second.Out);
        Assert.Contains("completion_tokens=12", first.Err);
        Assert.Contains("finish_reason=length", first.Err);

        var greedy = Run("generate", "--model", Model.Value, "--prompt", "The engine", "--max-tokens", "12", "--ignore-eos");
        Assert.Equal(greedy.Out, Run("generate", "--model", Model.Value, "--prompt", "The engine", "--max-tokens", "12", "--ignore-eos").Out);
        string[] otherSeed = [.. sampled[..^2], "43", "--ignore-eos"];
        Assert.NotEqual(first.Out, Run(otherSeed).Out);
    }

    [Fact]
    public void MakeModelWithFp16IoWritesAFolderThatGenerates()
    {
        var dir = TestScratch.Path($"fp16io-{Guid.NewGuid():N}");
        var made = Run("make-model", "--preset", "tiny", "--out", dir, "--fp16-io");
        Assert.Equal(0, made.Code);
        Assert.Contains("float16 KV cache and logits", made.Out);
        var generated = Run("generate", "--model", dir, "--prompt", "The engine", "--max-tokens", "8", "--ignore-eos");
        Assert.Equal(0, generated.Code);
        Assert.Contains("completion_tokens=8", generated.Err);
    }

    [Fact]
    public void MakeModelWithLoraWritesAGraphThatTakesAdaptersAndStillGenerates()
    {
        var dir = TestScratch.Path($"lora-{Guid.NewGuid():N}");
        var made = Run("make-model", "--preset", "tiny", "--out", dir, "--lora", "q_proj,down_proj");
        Assert.Equal(0, made.Code);
        Assert.Contains("LoRA inputs on q_proj,down_proj", made.Out);
        var graph = Flywheel.Onnx.Proto.OnnxModel.Load(Path.Combine(dir, "model.onnx")).Graph;
        Assert.Contains(graph.Inputs, i => i.Name == "lora.1.down_proj.B");
        Assert.DoesNotContain(graph.Inputs, i => i.Name == "lora.0.v_proj.A");
        var generated = Run("generate", "--model", dir, "--prompt", "The engine", "--max-tokens", "8", "--ignore-eos");
        Assert.Equal(0, generated.Code);
        Assert.Contains("completion_tokens=8", generated.Err);

        var bad = Run("make-model", "--preset", "tiny", "--out", dir, "--lora", "q_proj,lm_head");
        Assert.Equal(2, bad.Code);
        Assert.Contains("lm_head", bad.Err);
    }

    [Fact]
    public void TokenizePrintsAJsonArray()
    {
        var tokenizer = Path.Combine(Model.Value, "tokenizer.json");
        var (code, stdout, _) = Run("tokenize", "--tokenizer", tokenizer, "--text", "hello world");
        Assert.Equal(0, code);
        var ids = JsonSerializer.Deserialize<int[]>(stdout)!;
        Assert.NotEmpty(ids);
        Assert.All(ids, id => Assert.InRange(id, 0, 399));
        var file = TestScratch.Path($"text-{Guid.NewGuid():N}.txt");
        File.WriteAllText(file, "hello world");
        Assert.Equal(stdout, Run("tokenize", "--tokenizer", tokenizer, "--text-file", file).Out);
    }
}
