using System.Text.Json;
using Flywheel.Models;
using Flywheel.Onnx;
using Flywheel.Tokenization;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Cli;

/// <summary>
/// Opening what the commands run on (a model folder on a device, a tokenizer file), with load failures
/// turned into <see cref="CliException"/>s and bad arguments into <see cref="UsageException"/>s.
/// </summary>
internal static class ModelLoading
{
    /// <summary>--device cpu|cuda (default cpu).</summary>
    internal static ExecutionDevice DeviceFrom(CommandArgs args)
    {
        try
        {
            return args.String("device") is { } name ? ExecutionDevices.Parse(name) : ExecutionDevice.Cpu;
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <param name="maxModelLength">--max-model-len: the context to serve, at most the model's (null = the model's).</param>
    internal static ModelFolder OpenModel(string directory, int? threads, ExecutionDevice device = ExecutionDevice.Cpu, bool loadMixed = true, int? maxModelLength = null)
    {
        using var options = OnnxEnvironment.CreateSessionOptions();
        if (threads is { } n)
        {
            options.IntraOpNumThreads = n;
        }

        try
        {
            var model = ModelFolder.Open(directory, options, device, loadMixed);
            if (maxModelLength is { } limit)
            {
                try
                {
                    model.LimitContext(limit);
                }
                catch (ArgumentOutOfRangeException)
                {
                    model.Dispose();
                    throw new UsageException($"--max-model-len {limit} is larger than the model's context_length ({model.Config.ContextLength})");
                }
            }

            return model;
        }
        catch (ModelConfigException e)
        {
            throw new CliException(e.Message, e);
        }
        catch (CudaUnavailableException e)
        {
            throw new CliException(e.Message, e);
        }
        catch (OnnxRuntimeException e)
        {
            throw new CliException(e.Message, e);
        }
    }

    internal static Tokenizer LoadTokenizer(string path)
    {
        try
        {
            return Tokenizer.Load(path);
        }
        catch (Exception e) when (e is JsonException or FormatException or NotSupportedException or InvalidOperationException or KeyNotFoundException)
        {
            throw new CliException($"cannot load tokenizer {path}: {e.Message}", e);
        }
    }
}
