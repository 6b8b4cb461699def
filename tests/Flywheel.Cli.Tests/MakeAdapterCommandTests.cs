using System.Text.Json.Nodes;
using Flywheel.Adapters;
using static Flywheel.Cli.Tests.CliRunner;

namespace Flywheel.Cli.Tests;

/// <summary><c>flywheel make-adapter</c>: the folder it writes is a PEFT adapter the reader accepts, with the requested config.</summary>
public sealed class MakeAdapterCommandTests
{
    private static readonly Lazy<string> Model = new(() =>
    {
        var dir = TestScratch.Path("cli-adapter-base-" + Environment.ProcessId);
        var (code, _, err) = Run("make-model", "--preset", "tiny", "--out", dir, "--vocab", "300", "--seed", "7");
        Assert.True(code == 0, err);
        return dir;
    });

    private static string NewDirectory() => TestScratch.Path($"cli-adapter-{Environment.ProcessId}-{Guid.NewGuid():N}");

    [Fact]
    public void WritesAnAdapterThatLoadsForItsBase()
    {
        var dir = NewDirectory();
        var (code, stdout, err) = Run("make-adapter", "--model", Model.Value, "--out", dir, "--rank", "8", "--targets", "v_proj,q_proj,down_proj", "--seed", "3", "--alpha", "4", "--rslora", "--dtype", "BF16");
        Assert.True(code == 0, err);
        Assert.Contains("r 8", stdout);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!;
        Assert.Equal("LORA", (string?)config["peft_type"]);
        Assert.Equal(8, (int?)config["r"]);
        Assert.Equal(4.0, (double?)config["lora_alpha"]);
        Assert.True((bool?)config["use_rslora"]);
        Assert.Equal(["q_proj", "v_proj", "down_proj"], config["target_modules"]!.AsArray().Select(n => (string?)n));

        var adapter = PeftAdapter.Load(dir, AdapterBaseShape.FromModelFolder(Model.Value), maxRank: 16);
        Assert.Equal(2 * 3, adapter.ModuleCount);
        Assert.Equal(4 / Math.Sqrt(8), adapter.Config.Scale, 12);
        Assert.True(adapter.TryGetWeights(1, LoraTarget.DownProj, out var down));
        Assert.Contains(down.B, b => b != 0); // B is not PEFT's zero init
    }

    [Fact]
    public void TheSameSeedWritesTheSameAdapter()
    {
        string[] Args(string dir) => ["make-adapter", "--model", Model.Value, "--out", dir, "--rank", "4", "--targets", "all", "--seed", "9"];
        var (first, second) = (NewDirectory(), NewDirectory());
        Assert.Equal(0, Run(Args(first)).Code);
        Assert.Equal(0, Run(Args(second)).Code);
        Assert.Equal(File.ReadAllBytes(Path.Combine(first, "adapter_model.safetensors")), File.ReadAllBytes(Path.Combine(second, "adapter_model.safetensors")));
    }

    [Theory]
    [InlineData("--targets", "q_proj,lm_head")]
    [InlineData("--rank", "0")]
    [InlineData("--dtype", "F64")]
    [InlineData("--targets", ",")]
    public void BadArgumentsPrintUsageAndExit2(string option, string value)
    {
        var args = new Dictionary<string, string> { ["--model"] = "m", ["--out"] = "o", ["--rank"] = "4", ["--targets"] = "q_proj", ["--seed"] = "1" };
        args[option] = value;
        var (code, _, err) = Run(["make-adapter", .. args.SelectMany(p => new[] { p.Key, p.Value })]);
        Assert.Equal(2, code);
        Assert.Contains("usage: flywheel make-adapter", err);
    }

    [Fact]
    public void AFolderWithoutAModelIsAnError()
    {
        var (code, _, err) = Run("make-adapter", "--model", NewDirectory(), "--out", NewDirectory(), "--rank", "4", "--targets", "q_proj", "--seed", "1");
        Assert.Equal(1, code);
        Assert.Contains("genai_config.json", err);
    }
}
