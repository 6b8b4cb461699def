using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using static Flywheel.Server.Tests.OpenAi.ErrorResponseTests;

namespace Flywheel.Server.Tests.Edge;

/// <summary>
/// Statuses Kestrel produces itself (before any middleware) carry an OpenAI-shaped body, sent over raw
/// sockets so nothing cleans the request up first; responses the app writes pass through untouched.
/// </summary>
public sealed class KestrelStatusTests
{
    [Fact]
    public async Task AUrlOverKestrelsLimitIs414WithAnErrorBody()
    {
        await using var server = await ServerHarness.StartAsync();
        using var response = await server.Client.GetAsync("/v1/models?q=" + new string('a', 10_000));

        var error = await ErrorAsync(response, HttpStatusCode.RequestUriTooLong, "uri_too_long");
        Assert.Contains("URL is longer", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n", 400, "bad_request")]
    [InlineData("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n", 400, "bad_request")]
    [InlineData("GET /v1/models HTTP/1.1\r\n\r\n", 400, "bad_request")] // HTTP/1.1 without Host
    [InlineData("GET /v1/models HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 505, "http_version_not_supported")]
    [InlineData("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request")]
    [InlineData("GET /v1/models?q={LONG} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414, "uri_too_long")]
    [InlineData("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {LONG}{LONG}{LONG}{LONG}\r\n\r\n", 431, "request_header_fields_too_large")]
    public async Task KestrelsOwnRefusalsCarryAnErrorBody(string request, int status, string code)
    {
        await using var server = await ServerHarness.StartAsync();
        var raw = await ExchangeAsync(server.BaseUri, request.Replace("{LONG}", new string('a', 10_000), StringComparison.Ordinal));

        var (head, body) = Split(raw);
        Assert.StartsWith($"HTTP/1.1 {status} ", head);
        Assert.Contains("Content-Type: application/json", head);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(status >= 500 ? "server_error" : "invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task AppResponsesOnTheSameConnectionPassThroughUnchanged()
    {
        await using var server = await ServerHarness.StartAsync();
        var ok = "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        var missing = "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        var raw = await ExchangeAsync(server.BaseUri, ok + missing + "GARBAGE\r\n\r\n");

        var responses = raw.Split("HTTP/1.1 ").Skip(1).Select(r => "HTTP/1.1 " + r).ToList();
        Assert.Equal(3, responses.Count);
        Assert.StartsWith("HTTP/1.1 200 ", responses[0]);
        Assert.Equal("list", JsonDocument.Parse(Split(responses[0]).Body).RootElement.GetProperty("object").GetString());
        Assert.StartsWith("HTTP/1.1 404 ", responses[1]);
        Assert.Equal("unknown_url", JsonDocument.Parse(Split(responses[1]).Body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith("HTTP/1.1 400 ", responses[2]);
        Assert.Equal("bad_request", JsonDocument.Parse(Split(responses[2]).Body).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ABodyArrivingTooSlowlyIs408AndNoErrorIsLogged()
    {
        var log = new CapturingLoggerProvider();
        await using var server = await ServerHarness.StartAsync(o => o.ConfigureLogging = l =>
        {
            l.ClearProviders();
            l.AddProvider(log);
        });
        // Kestrel's minimum body rate (240 bytes/s after a 5 s grace) refuses a body that stalls.
        var raw = await ExchangeAsync(server.BaseUri, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":");

        var (head, body) = Split(raw);
        Assert.StartsWith("HTTP/1.1 408 ", head);
        Assert.Equal("request_timeout", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Error);
    }

    /// <summary>Sends <paramref name="request"/> as bytes and reads until the server closes the connection.</summary>
    internal static async Task<string> ExchangeAsync(Uri server, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        return Encoding.UTF8.GetString(received.ToArray());
    }

    private static (string Head, string Body) Split(string response)
    {
        var end = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end > 0, response);
        var head = response[..end];
        var body = response[(end + 4)..];
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            // One chunk is all an error body takes: "<hex size>\r\n<data>\r\n0\r\n\r\n".
            var sizeEnd = body.IndexOf("\r\n", StringComparison.Ordinal);
            var size = Convert.ToInt32(body[..sizeEnd], 16);
            return (head, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(body[(sizeEnd + 2)..])[..size]));
        }

        var length = head.Split("\r\n").Select(h => h.Split(": ", 2)).Where(h => h[0].Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(h => int.Parse(h[1])).Single();
        return (head, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(body)[..length]));
    }
}
