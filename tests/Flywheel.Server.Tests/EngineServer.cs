using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server.Hosting;
using Flywheel.Serving.Backend;
using Flywheel.Serving.ResponseFormats;
using Flywheel.Tokenization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests;

/// <summary>
/// The real path for tests: a model folder built with dummy weights, the batching engine behind
/// <see cref="EngineBackend"/>, and Kestrel on 127.0.0.1 with a free port.
/// </summary>
internal sealed class EngineServer : IAsyncDisposable
{
    private static readonly Lock BuildLock = new();

    private EngineServer(ModelFolder model, Tokenizer tokenizer, EngineBackend backend, WebApplication app)
    {
        (Model, Tokenizer, Backend, App) = (model, tokenizer, backend, app);
        BaseUri = FlywheelServer.ListeningUris(app).Single();
        Client = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(120) };
    }

    public ModelFolder Model { get; }

    public Tokenizer Tokenizer { get; }

    public EngineBackend Backend { get; }

    public WebApplication App { get; }

    public Uri BaseUri { get; }

    public HttpClient Client { get; }

    /// <summary>Builds (once per process and <paramref name="name"/>) and serves a model.</summary>
    /// <param name="tokenizerJson">A real tokenizer.json to build with; null writes the synthetic tokenizer.</param>
    /// <param name="configure">Server settings to change (body limit, drain timeout) before it starts.</param>
    /// <param name="schemaOptions">Schema compile budget, pool and cache; null for the defaults.</param>
    /// <param name="afterBuild">Changes the folder once it is written (e.g. its chat template), before it is opened.</param>
    public static async Task<EngineServer> StartAsync(string name, ModelBuilderOptions options, EngineOptions engine, string? tokenizerJson = null, Action<ServerOptions>? configure = null,
        SchemaCompileOptions? schemaOptions = null, Action<string>? afterBuild = null)
    {
        var dir = TestScratch.Path($"{name}-{Environment.ProcessId}");
        // Test classes run in parallel and share folders by name: one writes, the others wait for it.
        lock (BuildLock)
        {
            if (!File.Exists(Path.Combine(dir, "genai_config.json")))
            {
                ModelFolderWriter.Write(dir, options, tokenizerJson, SyntheticTokenizer.Write);
                afterBuild?.Invoke(dir);
            }
        }

        return await StartFolderAsync(dir, engine, configure, schemaOptions);
    }

    /// <summary>Serves the model folder <paramref name="dir"/> as it is (one written by import, say).</summary>
    public static async Task<EngineServer> StartFolderAsync(string dir, EngineOptions engine, Action<ServerOptions>? configure = null, SchemaCompileOptions? schemaOptions = null)
    {
        var model = ModelFolder.Open(dir);
        var tokenizer = Tokenizer.Load(model.TokenizerPath);
        var backend = new EngineBackend(model, tokenizer, engine, schemaOptions: schemaOptions);
        var serverOptions = new ServerOptions { Port = 0, Output = TextWriter.Null, ConfigureLogging = l => l.ClearProviders() };
        configure?.Invoke(serverOptions);
        var app = FlywheelServer.Build(serverOptions, backend);
        await app.StartAsync();
        return new EngineServer(model, tokenizer, backend, app);
    }

    /// <summary>The repository root (the folder holding test.sh).</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "test.sh")))
        {
            dir = dir.Parent;
        }

        return dir.FullName;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Backend.Dispose();
        Model.Dispose();
    }
}
