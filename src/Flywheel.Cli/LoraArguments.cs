using Flywheel.Serving.Adapters;
using Flywheel.Serving.Backend;

namespace Flywheel.Cli;

/// <summary>
/// serve's LoRA options: <c>--lora NAME=PATH</c> (repeatable), <c>--max-loras N</c> (default: the number of
/// --lora given, at least 1 with --allow-runtime-lora), <c>--max-lora-rank R</c> (default 16),
/// <c>--allow-runtime-lora</c>.
/// </summary>
internal sealed record LoraArguments(IReadOnlyList<(string Name, string Path)> Adapters, int MaxLoras, int MaxRank, bool AllowRuntime)
{
    /// <summary>The flag among them (no value), for <see cref="CommandArgs.Parse"/>.</summary>
    public const string AllowRuntimeFlag = "allow-runtime-lora";

    /// <summary>Reads the options; a malformed --lora, a repeated name or too few slots is a <see cref="UsageException"/>.</summary>
    public static LoraArguments From(CommandArgs args)
    {
        var adapters = new List<(string Name, string Path)>();
        foreach (var value in args.Strings("lora"))
        {
            var eq = value.IndexOf('=');
            if (eq <= 0 || eq == value.Length - 1)
            {
                throw new UsageException($"--lora takes NAME=PATH (an adapter folder served under NAME), got '{value}'");
            }

            var name = value[..eq];
            if (adapters.Any(a => a.Name == name))
            {
                throw new UsageException($"--lora names '{name}' twice");
            }

            adapters.Add((name, value[(eq + 1)..]));
        }

        var allowRuntime = args.Flag(AllowRuntimeFlag);
        var maxLoras = args.Int("max-loras", 0, 1024) ?? Math.Max(adapters.Count, allowRuntime ? 1 : 0);
        if (maxLoras < adapters.Count)
        {
            throw new UsageException($"--max-loras {maxLoras} is less than the {adapters.Count} adapters given with --lora");
        }

        if (allowRuntime && maxLoras == 0)
        {
            throw new UsageException("--allow-runtime-lora needs at least one slot (--max-loras 1 or more)");
        }

        var maxRank = args.Int("max-lora-rank", 1, 1024) ?? 16;
        return new LoraArguments(adapters, maxLoras, maxRank, allowRuntime);
    }

    /// <summary>
    /// Loads the --lora adapters into <paramref name="backend"/> before the server starts. An adapter the
    /// model cannot serve stops startup with a message naming the file and the field.
    /// </summary>
    public void LoadInto(EngineBackend backend, TextWriter log)
    {
        if ((Adapters.Count > 0 || AllowRuntime) && backend.AdapterUnsupportedReason is { } reason)
        {
            throw new CliException($"cannot serve LoRA adapters on this model: {reason}");
        }

        foreach (var (name, path) in Adapters)
        {
            try
            {
                var adapter = backend.Adapters.LoadAsync(name, path).GetAwaiter().GetResult();
                log.WriteLine($"loaded LoRA adapter '{name}' from {path} (slot {adapter.Slot})");
            }
            catch (AdapterRejectedException e)
            {
                throw new CliException($"--lora {name}={path}: {e.Message}", e);
            }
        }
    }
}
