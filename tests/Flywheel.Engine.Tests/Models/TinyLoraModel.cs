using Flywheel.Adapters;
using Flywheel.Models.Building;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// <see cref="TinyModel"/>'s weights (same sizes and seed) in the LoRA-capable graph, every projection
/// adapted (<c>make-model --lora all</c>); built once per test run.
/// </summary>
internal static class TinyLoraModel
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        var dir = TestScratch.Path("tiny-lora-" + Environment.ProcessId);
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { VocabSize = 300, LoraTargets = LoraTargets.All }, tokenizerJsonPath: null);
        return dir;
    });

    public static string Dir => Folder.Value;
}
