using Flywheel.Models.Building;
using Flywheel.Tokenization;

namespace Flywheel.Benchmarks;

/// <summary>The model folder a benchmark runs on when none is given.</summary>
internal static class BenchModel
{
    /// <summary>
    /// <paramref name="modelDir"/> if given; otherwise the bench preset in the temp folder, built there
    /// on first use and shared by every benchmark that defaults to it.
    /// </summary>
    public static string FolderOrDefault(string? modelDir)
    {
        if (modelDir is not null)
        {
            return modelDir;
        }

        modelDir = Path.Combine(Path.GetTempPath(), "flywheel-bench-model");
        if (!File.Exists(Path.Combine(modelDir, "genai_config.json")))
        {
            Console.WriteLine($"building the bench preset into {modelDir}");
            ModelFolderWriter.Write(modelDir, ModelBuilderOptions.Bench, null, SyntheticTokenizer.Write);
        }

        return modelDir;
    }
}
