using Flywheel.Server.Hosting;

namespace Flywheel.Server.Tests.Hosting;

public sealed class ServerOptionsTests
{
    [Theory]
    [InlineData("example.com", "Host")]
    [InlineData("", "Host")]
    public void InvalidOptionsAreRefusedNamingTheSetting(string host, string setting)
    {
        var e = Assert.Throws<ArgumentException>(() => new ServerOptions { Host = host }.Validate());
        Assert.Equal(setting, e.ParamName);
    }

    [Fact]
    public void NonPositiveTimeoutIsRefused() =>
        Assert.Equal("RequestTimeout", Assert.Throws<ArgumentException>(() => new ServerOptions { RequestTimeout = TimeSpan.Zero }.Validate()).ParamName);
}
