using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

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
