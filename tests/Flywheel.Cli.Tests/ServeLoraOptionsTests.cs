using static Flywheel.Cli.Tests.CliRunner;

namespace Flywheel.Cli.Tests;

/// <summary><c>flywheel serve</c>'s LoRA options: --lora NAME=PATH (repeatable), --max-loras, --max-lora-rank, --allow-runtime-lora.</summary>
public sealed class ServeLoraOptionsTests
{
    private static readonly Lazy<string> Model = new(() =>
    {
        var dir = TestScratch.Path("cli-lora-base-" + Environment.ProcessId);
        var (code, _, err) = Run("make-model", "--preset", "tiny", "--out", dir, "--vocab", "300", "--seed", "7", "--lora", "all");
        Assert.True(code == 0, err);
        return dir;
    });

    private static LoraArguments Parse(params string[] args)
    {
        var parsed = CommandArgs.Parse(args, LoraArguments.AllowRuntimeFlag);
        var lora = LoraArguments.From(parsed);
        parsed.EnsureAllUsed();
        return lora;
    }

    [Fact]
    public void SlotsDefaultToTheAdaptersGivenAndOneForRuntimeLoads()
    {
        var two = Parse("--lora", "sql=/a/sql", "--lora", "chat=/a/chat=v2");
        Assert.Equal([("sql", "/a/sql"), ("chat", "/a/chat=v2")], two.Adapters);
        Assert.Equal(2, two.MaxLoras);
        Assert.Equal(16, two.MaxRank);
        Assert.False(two.AllowRuntime);

        Assert.Equal(0, Parse().MaxLoras);
        Assert.Equal(1, Parse("--allow-runtime-lora").MaxLoras);
        var set = Parse("--allow-runtime-lora", "--max-loras", "8", "--max-lora-rank", "64", "--lora", "a=/x");
        Assert.Equal((8, 64, true), (set.MaxLoras, set.MaxRank, set.AllowRuntime));
    }

    [Theory]
    [InlineData("--lora", "nopath")]
    [InlineData("--lora", "=/x")]
    [InlineData("--lora", "a=")]
    [InlineData("--lora", "a=/x", "--lora", "a=/y")]
    [InlineData("--lora", "a=/x", "--lora", "b=/y", "--max-loras", "1")]
    [InlineData("--allow-runtime-lora", "--max-loras", "0")]
    [InlineData("--max-lora-rank", "0")]
    public void MistakesAreUsageErrors(params string[] args) =>
        Assert.Throws<UsageException>(() => Parse(args));

    [Fact]
    public void ABadAdapterStopsStartupNamingTheFileAndField()
    {
        var dir = TestScratch.Path($"cli-lora-bad-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var (made, _, makeErr) = Run("make-adapter", "--model", Model.Value, "--out", dir, "--rank", "4", "--targets", "q_proj", "--seed", "1");
        Assert.True(made == 0, makeErr);
        var config = Path.Combine(dir, "adapter_config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"bias\": \"none\"", "\"bias\": \"all\"", StringComparison.Ordinal));

        var (code, _, err) = Run("serve", "--model", Model.Value, "--port", "0", "--lora", $"bad={dir}");

        Assert.Equal(1, code);
        Assert.Contains($"--lora bad={dir}", err);
        Assert.Contains(config, err);
        Assert.Contains("'bias'", err);
    }
}
