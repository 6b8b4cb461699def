using System.Net;
using System.Net.Sockets;
using Flywheel.Server.Hosting;
using Flywheel.Server.Tests.Testing;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests.Hosting;

public sealed class RunAsyncTests
{
    [Fact]
    public async Task ReturnsZeroAfterCancellation()
    {
        var output = new StringWriter();
        using var stop = new CancellationTokenSource();
        var options = new ServerOptions { Port = 0, Output = TextWriter.Synchronized(output), ConfigureLogging = l => l.ClearProviders() };
        var run = FlywheelServer.RunAsync(options, new ScriptedBackend("m"), stop.Token);
        using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
        {
            while (!output.ToString().Contains("listening on"))
            {
                await Task.Delay(10, bound.Token);
            }
        }

        await stop.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task ReturnsOneWhenThePortIsTaken()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var output = new StringWriter();
        var options = new ServerOptions { Port = port, Output = output, ConfigureLogging = l => l.ClearProviders() };

        Assert.Equal(1, await FlywheelServer.RunAsync(options, new ScriptedBackend("m")));
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", output.ToString());
    }
}
