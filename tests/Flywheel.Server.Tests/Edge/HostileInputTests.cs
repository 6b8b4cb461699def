using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests.Edge;

/// <summary>
/// Every row of <see cref="HostileInputRows"/> sent to a real server on loopback (scripted backend): the
/// status, the error's <c>code</c> and <c>param</c> are exactly the row's, errors are OpenAI-shaped, and no
/// client mistake is a 5xx.
/// </summary>
public sealed partial class HostileInputTests(HostileInputTests.Server server) : IClassFixture<HostileInputTests.Server>
{
    public static TheoryData<string> Names => [.. HostileInputRows.All.Keys];

    [Fact]
    public void TheTableHoldsAtLeast100Bodies() => Assert.True(HostileInputRows.All.Count >= 100, $"{HostileInputRows.All.Count} rows");

    [Theory]
    [MemberData(nameof(Names))]
    public async Task EachBodyGetsItsStatusCodeAndParam(string name)
    {
        var row = HostileInputRows.All[name];
        using var content = new ByteArrayContent(Bytes(row.Body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        // A fresh connection per row: a refused upload (413) closes its connection, and a pooled one could
        // carry the next row into that close.
        using var request = new HttpRequestMessage(HttpMethod.Post, row.Path) { Content = content };
        request.Headers.ConnectionClose = true;
        // A big body waits for the server's go-ahead: one it refuses from Content-Length (413) is answered
        // before the upload, instead of the connection closing under a client still sending.
        request.Headers.ExpectContinue = row.Body.Length > 1024 * 1024;
        using var response = await server.Harness.Client.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();

        Assert.True(row.Status == (int)response.StatusCode, $"{name}: expected {row.Status}, got {(int)response.StatusCode}: {Shorten(raw)}");
        if (row.Status == 200)
        {
            return;
        }

        var error = JsonDocument.Parse(raw).RootElement.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(p => p.Name));
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.True(row.Code == error.GetProperty("code").GetString(), $"{name}: code {error.GetProperty("code")}, expected {row.Code}: {Shorten(raw)}");
        Assert.True(row.Param == error.GetProperty("param").GetString(), $"{name}: param {Shorten(error.GetProperty("param").ToString())}, expected {row.Param}: {Shorten(raw)}");
    }

    [Fact]
    public async Task BadBytesAreLoggedAtDebugNotAsErrors()
    {
        var log = new CapturingLoggerProvider();
        await using var harness = await ServerHarness.StartAsync(o => o.ConfigureLogging = l =>
        {
            l.ClearProviders();
            l.AddProvider(log);
            l.SetMinimumLevel(LogLevel.Debug);
        });
        using var content = new ByteArrayContent(Bytes(HostileInputRows.All["0xFF in content"].Body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await harness.Client.PostAsync(HostileInputRows.Chat, content);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Debug && e.Message.Contains("invalid_unicode", StringComparison.Ordinal));
    }

    /// <summary>The row's text as UTF-8, with each <c>&lt;xHH&gt;</c> replaced by the raw byte HH.</summary>
    internal static byte[] Bytes(string text)
    {
        var bytes = new List<byte>(text.Length);
        var last = 0;
        foreach (Match m in RawByte().Matches(text))
        {
            bytes.AddRange(Encoding.UTF8.GetBytes(text[last..m.Index]));
            bytes.Add(Convert.ToByte(m.Groups[1].Value, 16));
            last = m.Index + m.Length;
        }

        bytes.AddRange(Encoding.UTF8.GetBytes(text[last..]));
        return [.. bytes];
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "..." : text;

    [GeneratedRegex("<x([0-9A-F]{2})>")]
    private static partial Regex RawByte();

    /// <summary>One server for the whole table.</summary>
    public sealed class Server : IAsyncLifetime
    {
        internal ServerHarness Harness { get; private set; } = null!;

        public async Task InitializeAsync() => Harness = await ServerHarness.StartAsync();

        public async Task DisposeAsync() => await Harness.DisposeAsync();
    }
}
