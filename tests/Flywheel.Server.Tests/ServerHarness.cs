using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Flywheel.Server.Hosting;
using Flywheel.Server.Tests.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests;

/// <summary>A real Kestrel server on 127.0.0.1 with a free port, over a <see cref="ScriptedBackend"/>, and a client for it.</summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    public const string Model = "test-model";

    private ServerHarness(WebApplication app, ScriptedBackend backend, StringWriter output)
    {
        App = app;
        Backend = backend;
        Output = output;
        BaseUri = FlywheelServer.ListeningUris(app).Single();
        Client = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public ScriptedBackend Backend { get; }

    public StringWriter Output { get; }

    public Uri BaseUri { get; }

    public HttpClient Client { get; }

    public static async Task<ServerHarness> StartAsync(Action<ServerOptions>? configure = null, ScriptedBackend? backend = null)
    {
        backend ??= new ScriptedBackend(Model);
        var output = new StringWriter();
        var options = new ServerOptions
        {
            Port = 0,
            Output = TextWriter.Synchronized(output),
            ConfigureLogging = logging => logging.ClearProviders(),
        };
        configure?.Invoke(options);
        var app = FlywheelServer.Build(options, backend);
        await app.StartAsync();
        return new ServerHarness(app, backend, output);
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, CancellationToken cancellationToken = default) =>
        Client.SendAsync(Post(path, json), HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    public static HttpRequestMessage Post(string path, string json, string contentType = "application/json") =>
        new(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, MediaTypeHeaderValue.Parse(contentType)) };

    public static string Chat(string content, string extra = "") =>
        $$"""{"model":"{{Model}}","messages":[{"role":"user","content":{{JsonSerializer.Serialize(content)}}}]{{extra}}}""";

    public static string Completion(string prompt, string extra = "") =>
        $$"""{"model":"{{Model}}","prompt":{{JsonSerializer.Serialize(prompt)}}{{extra}}}""";

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
