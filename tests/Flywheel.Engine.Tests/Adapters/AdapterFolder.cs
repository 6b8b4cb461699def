using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>Random PEFT adapters for the tiny test model, each in a fresh temporary folder.</summary>
internal static class AdapterFolder
{
    private static readonly Lazy<AdapterBaseShape> TinyShape = new(() => AdapterBaseShape.FromModelFolder(TinyModel.Dir));

    public static AdapterBaseShape Shape => TinyShape.Value;

    public static PeftAdapterConfig Config(int rank = 4, double alpha = 8, bool rsLora = false, params LoraTarget[] targets) => new()
    {
        Rank = rank,
        Alpha = alpha,
        UseRsLora = rsLora,
        Targets = targets.Length == 0 ? LoraTargets.All : targets,
        BaseModelNameOrPath = "tiny",
    };

    public static string NewDirectory() =>
        TestScratch.Path($"adapter-{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>Writes a random adapter (B scaled by <paramref name="bScale"/>; 0 gives PEFT's fresh, no-op adapter).</summary>
    public static string Write(PeftAdapterConfig config, int seed = 1, double bScale = 0.5, string dtype = "F32")
    {
        var dir = NewDirectory();
        PeftAdapterWriter.Write(dir, config, PeftAdapterWriter.RandomWeights(Shape, config, seed, bScale), dtype);
        return dir;
    }
}
