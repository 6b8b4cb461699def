using Flywheel.Cli;
using Flywheel.Server;
using Flywheel.Server.Hosting;

namespace Flywheel.Cli.Tests;

/// <summary><c>flywheel serve</c>'s access options: repeatable keys and origins, the environment's keys, the host list.</summary>
public sealed class ServeAccessOptionsTests
{
    [Fact]
    public void KeysComeFromRepeatedOptionsAndTheEnvironment()
    {
        var args = CommandArgs.Parse(
            ["--api-key", "sk-a", "--api-key", "sk-b", "--metrics-require-key", "--allowed-hosts", "box.lan, other.lan", "--cors-origin", "https://a.example", "--cors-origin", "http://b.example:8080"],
            "metrics-require-key");
        var options = new ServerOptions();

        ServeCommand.ApplyAccessOptions(args, options, " sk-c ,sk-a,");
        args.EnsureAllUsed();
        options.Validate();

        Assert.Equal(["sk-a", "sk-b", "sk-c"], options.ApiKeys);
        Assert.True(options.MetricsRequireKey);
        Assert.Equal(["box.lan", "other.lan"], options.AllowedHosts);
        Assert.Equal(["https://a.example", "http://b.example:8080"], options.CorsOrigins);
    }

    [Fact]
    public void WithoutThemNothingIsRequired()
    {
        var options = new ServerOptions();
        ServeCommand.ApplyAccessOptions(CommandArgs.Parse([]), options, null);

        Assert.Empty(options.ApiKeys);
        Assert.False(options.MetricsRequireKey);
        Assert.Empty(options.CorsOrigins);
    }

    [Fact]
    public void AnOptionThatIsNotRepeatableIsStillRefusedTwice()
    {
        var args = CommandArgs.Parse(["--host", "127.0.0.1", "--host", "0.0.0.0"]);

        Assert.Contains("given twice", Assert.Throws<UsageException>(() => args.String("host")).Message);
    }
}
