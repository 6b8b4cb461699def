using Flywheel.Models.Building;
using Flywheel.Server;
using Flywheel.Server.Hosting;
using Flywheel.Serving.Backend;
using Flywheel.Serving.ResponseFormats;
using Flywheel.Tokenization;

namespace Flywheel.Cli;

/// <summary><c>flywheel serve</c>: the OpenAI-compatible server over a model folder (or the built-in demo model).</summary>
internal static class ServeCommand
{
    /// <summary>Context of the built-in demo model: the size the built-in loadgen mixes are written for.</summary>
    internal const int DemoContextLength = 2048;

    public static readonly CliApp.Command Definition = new(
        "serve",
        "serve a model over the OpenAI-compatible REST API",
        "usage: flywheel serve [--model DIR] [--host 127.0.0.1] [--port 8000] [--threads N] [--queue N] [--device cpu|cuda]\n" +
        "                      [--policy flywheel|prefill-first|sequential] [--max-batch-tokens N] [--chunk-size N] [--max-running N]\n" +
        "                      [--mixed-runs on|off] [--drain-timeout SECONDS (30)] [--max-model-len N]\n" +
        "                      [--max-schema-states N (250000)] [--schema-compile-timeout SECONDS (10)] [--schema-compile-concurrency N (1)]\n" +
        "                      [--schema-cache-count N (256)] [--schema-cache-mb N (128)]\n" +
        "                      [--api-key KEY]... [--metrics-require-key] [--allowed-hosts NAME,...] [--cors-origin ORIGIN]...\n" +
        "                      [--lora NAME=PATH]... [--max-loras N] [--max-lora-rank R (16)] [--allow-runtime-lora]\n" +
        "  --max-schema-states, --schema-compile-timeout: the budget of one response_format compile; a schema that needs\n" +
        "    more is refused with a 400 naming the limit. Compiles run on --schema-compile-concurrency threads of their own\n" +
        "    and are cancelled when their request ends; compiled formats are cached by canonical schema (LRU, count and size)\n" +
        "  --api-key: /v1 needs Authorization: Bearer KEY (repeatable; also FLYWHEEL_API_KEY, comma-separated);\n" +
        "    /health stays open, /metrics too unless --metrics-require-key\n" +
        "  --allowed-hosts: Host names accepted besides localhost/127.x/[::1] when bound to loopback (* for any)\n" +
        "  --cors-origin: an origin browsers may call the API from (repeatable; CORS is off without it)\n" +
        "  --mixed-runs: run decodes and one prompt chunk as one Run when the folder has model.mixed.onnx (default off;\n" +
        "    both sessions then share ONNX Runtime's global thread pool and --threads does not apply)\n" +
        "  --max-model-len: serve at most N tokens of context (prompt + output) instead of the model's context_length;\n" +
        "    every KV slot is sized by it (an imported checkpoint's context is its max_position_embeddings, e.g. 131072)\n" +
        "  --lora: serve the PEFT adapter folder PATH as model NAME (repeatable; loaded at startup, a bad one stops it)\n" +
        "  --max-loras: adapters resident at once (default: the number of --lora, at least 1 with --allow-runtime-lora)\n" +
        "  --max-lora-rank: the highest adapter rank accepted\n" +
        "  --allow-runtime-lora: map POST /v1/load_lora_adapter and /v1/unload_lora_adapter (behind --api-key when set);\n" +
        "    they read folders on this machine's disk, so give them only to trusted clients\n" +
        "  without --model, serves a small built-in demo model (built once into the cache)\n" +
        "  on SIGTERM: readiness turns 503, in-flight requests get --drain-timeout seconds to finish, the rest are aborted",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        var args = CommandArgs.Parse(input.Args, "metrics-require-key", LoraArguments.AllowRuntimeFlag);
        var modelDir = args.String("model");
        var options = new ServerOptions
        {
            Host = args.String("host") ?? "127.0.0.1",
            Port = args.Int("port", 0, 65535) ?? 8000,
            Output = input.Out,
        };
        if (args.Int("drain-timeout", 0, 3600) is { } drainSeconds)
        {
            options.DrainTimeout = TimeSpan.FromSeconds(drainSeconds);
        }

        ApplyAccessOptions(args, options, Environment.GetEnvironmentVariable("FLYWHEEL_API_KEY"));
        var threads = args.Int("threads", 0, 1024);
        var device = ModelLoading.DeviceFrom(args);
        var lora = LoraArguments.From(args);
        var engineOptions = EngineOptionsArguments.EngineOptionsFrom(args) with { MaxLoraCount = lora.MaxLoras, MaxLoraRank = lora.MaxRank };
        options.AllowRuntimeLora = lora.AllowRuntime;
        var schemaOptions = SchemaOptionsFrom(args);
        var maxModelLength = args.Int("max-model-len", 2, int.MaxValue);
        args.EnsureAllUsed();
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        modelDir ??= DemoModel(input.Error);
        using var model = ModelLoading.OpenModel(modelDir, threads, device, engineOptions.MixedRuns, maxModelLength);
        var tokenizer = ModelLoading.LoadTokenizer(model.TokenizerPath);
        using var backend = new EngineBackend(model, tokenizer, engineOptions, schemaOptions: schemaOptions);
        lora.LoadInto(backend, input.Error);
        return FlywheelServer.RunAsync(options, backend).GetAwaiter().GetResult();
    }

    /// <summary>Schema compile options from --max-schema-states, --schema-compile-timeout, --schema-compile-concurrency, --schema-cache-count, --schema-cache-mb.</summary>
    internal static SchemaCompileOptions SchemaOptionsFrom(CommandArgs args)
    {
        var defaults = new SchemaCompileOptions();
        return new SchemaCompileOptions
        {
            MaxStates = args.Int("max-schema-states", 1, 100_000_000) ?? defaults.MaxStates,
            CompileTimeout = args.Double("schema-compile-timeout", 0.001, 3600) is { } seconds ? TimeSpan.FromSeconds(seconds) : defaults.CompileTimeout,
            Concurrency = args.Int("schema-compile-concurrency", 1, 64) ?? defaults.Concurrency,
            CacheCount = args.Int("schema-cache-count", 1, 1 << 20) ?? defaults.CacheCount,
            CacheBytes = args.Int("schema-cache-mb", 1, 1 << 20) is { } mb ? mb * 1024L * 1024 : defaults.CacheBytes,
        };
    }

    /// <summary>
    /// --api-key (repeatable) plus the comma-separated <paramref name="environmentKeys"/> (FLYWHEEL_API_KEY),
    /// --metrics-require-key, --allowed-hosts (comma-separated), --cors-origin (repeatable).
    /// </summary>
    internal static void ApplyAccessOptions(CommandArgs args, ServerOptions options, string? environmentKeys)
    {
        var fromEnvironment = (environmentKeys ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        options.ApiKeys = [.. args.Strings("api-key").Concat(fromEnvironment).Distinct(StringComparer.Ordinal)];
        options.MetricsRequireKey = args.Flag("metrics-require-key");
        options.AllowedHosts = [.. (args.String("allowed-hosts") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        options.CorsOrigins = [.. args.Strings("cors-origin")];
    }

    /// <summary>
    /// The built-in demo model: the tiny preset with a 2,000-token synthetic tokenizer that holds common
    /// English words as single tokens, and a 2,048-token context, so every built-in loadgen mix (sized for
    /// 2,048 tokens, one token per word) fits it as the README runs them. Its KV cache is small
    /// (2 layers x 2 KV heads x 16 x 2,048 positions x K and V x 4 bytes = 1 MiB per slot). Built once into the cache.
    /// </summary>
    internal static string DemoModel(TextWriter log)
    {
        // The folder name changes with the model's shape, so a cache built by an older version is never reused.
        var dir = Path.Combine(CacheDirectory.FullPath, "models", "flywheel-demo-v3");
        if (!File.Exists(Path.Combine(dir, "genai_config.json")))
        {
            log.WriteLine($"building the demo model into {dir} (once)");
            var staging = dir + ".tmp-" + Environment.ProcessId;
            ModelFolderWriter.Write(staging, ModelBuilderOptions.Tiny with { VocabSize = 2000, ContextLength = DemoContextLength }, null,
                (folder, vocabSize) => SyntheticTokenizer.Write(folder, vocabSize, SyntheticTokenizer.CommonWordsCorpus));
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }

            Directory.Move(staging, dir);
        }

        return dir;
    }
}
