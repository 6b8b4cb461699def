using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Flywheel.Models.Building;

namespace Flywheel.Server.Tests.Serving.ResponseFormats;

/// <summary>
/// A schema must never make the server open a connection or a file: a real listener on loopback
/// stands where a <c>$ref</c> points and must see no connection, while the client gets a 400
/// naming <c>$ref</c> and where it is.
/// </summary>
public sealed class SchemaReferenceTests : IAsyncLifetime
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private EngineServer _server = null!;
    private Task _accepting = Task.CompletedTask;
    private int _connections;

    public async Task InitializeAsync()
    {
        _listener.Start();
        _accepting = AcceptAsync();
        _server = await EngineServer.StartAsync("server-refs", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new Flywheel.Scheduling.EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 64, ChunkSize = 32 });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    /// <summary>Counts every connection and closes it at once (a fetch would fail, but it must never be tried).</summary>
    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }

    private string Probe => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/probe.json";

    public static TheoryData<string, string> Schemas() => new()
    {
        // Unused: the grammar never reaches it, so only an up-front check can refuse it.
        { """{"type":"object","$defs":{"x":{"$ref":"PROBE"}}}""", "#/$defs/x" },
        { """{"type":"object","properties":{"a":{"$ref":"PROBE"}},"required":["a"]}""", "#/properties/a" },
        { """{"type":"object","definitions":{"x":{"$ref":"PROBE#/definitions/y"}}}""", "#/definitions/x" },
        { """{"type":"object","$defs":{"x":{"$ref":"file:///etc/passwd"}}}""", "#/$defs/x" },
        { """{"type":"object","$defs":{"x":{"$ref":"probe.json"}}}""", "#/$defs/x" },
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public async Task A_reference_out_of_the_document_is_a_400_and_is_never_fetched(string schema, string pointer)
    {
        var format = """{"type":"json_schema","json_schema":{"name":"s","schema":""" + schema.Replace("PROBE", Probe, StringComparison.Ordinal) + "}}";
        var body = $$"""{"model":"{{_server.Model.Name}}","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"response_format":{{format}}}""";
        using var response = await _server.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");

        Assert.Equal(0, Volatile.Read(ref _connections));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("'$ref'", message, StringComparison.Ordinal);
        Assert.Contains($"'{pointer}'", message, StringComparison.Ordinal);
        Assert.Equal("response_format.json_schema.schema", error.GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("""{"$id":"PROBE","type":"object","definitions":{"a":{"type":"integer"}},"properties":{"p":{"$ref":"#/definitions/a"}}}""")]
    [InlineData("""{"type":"object","definitions":{"a":{"type":"integer"}},"properties":{"p":{"$id":"PROBE","$ref":"#/definitions/a"}}}""")]
    [InlineData("""{"$schema":"PROBE","type":"object"}""")]
    public async Task A_base_uri_in_the_schema_never_makes_a_local_reference_a_fetch(string schema)
    {
        var format = """{"type":"json_schema","json_schema":{"name":"s","schema":""" + schema.Replace("PROBE", Probe, StringComparison.Ordinal) + "}}";
        var body = $$"""{"model":"{{_server.Model.Name}}","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"response_format":{{format}}}""";
        using var response = await _server.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(0, Volatile.Read(ref _connections));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task The_listener_does_count_a_connection()
    {
        // Guards the test itself: a listener that could not see a fetch would prove nothing.
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref _connections) == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(1, Volatile.Read(ref _connections));
    }
}
