using Flywheel.Models;
using Flywheel.Models.Building;

namespace Flywheel.Engine.Tests.Models;

/// <summary>A tiny model folder built once per test run (model.onnx + genai_config.json).</summary>
internal static class TinyModel
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        var dir = TestScratch.Path("tiny-" + Environment.ProcessId);
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { VocabSize = 300 }, tokenizerJsonPath: null);
        return dir;
    });

    public static string Path_ => Folder.Value;

    public static string Dir => Folder.Value;
}
