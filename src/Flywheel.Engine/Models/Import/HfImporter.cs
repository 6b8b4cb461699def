using Flywheel.Models.Building;

namespace Flywheel.Models.Import;

/// <summary>
/// Turns a Hugging Face checkpoint (<see cref="HfCheckpoint"/>) into an ORT GenAI model folder: model.onnx and
/// model.mixed.onnx from the checkpoint's weights in the requested precision (weights in model.onnx.data when large), genai_config.json with its EOS ids,
/// and its tokenizer.json / tokenizer_config.json copied. With LoRA targets the graphs take adapters on those
/// projections (the same LoRA-capable graph as <c>make-model --lora</c>), so PEFT adapters trained on the
/// checkpoint can be served over the imported weights.
/// </summary>
public static class HfImporter
{
    /// <summary>
    /// Imports <paramref name="from"/> into <paramref name="to"/>; returns the checkpoint read. <paramref name="loraTargets"/>
    /// (none by default) are the projections whose adapters the folder will take. Throws <see cref="ModelConfigException"/>
    /// for what the checkpoint holds and <see cref="ArgumentException"/> for options that do not go together.
    /// </summary>
    public static HfCheckpoint Import(string from, string to, ModelPrecision precision = ModelPrecision.Fp32, int blockSize = 32, int accuracyLevel = 4, bool? externalData = null, IReadOnlyList<Adapters.LoraTarget>? loraTargets = null)
    {
        var checkpoint = HfCheckpoint.Read(from);
        var tokenizer = Path.Combine(from, "tokenizer.json");
        if (!File.Exists(tokenizer))
        {
            throw new ModelConfigException($"{from}: no tokenizer.json");
        }

        // Options are checked before any weight is opened: a refused combination costs nothing.
        var options = checkpoint.Options with { Precision = precision, BlockSize = blockSize, AccuracyLevel = accuracyLevel, ExternalData = externalData, LoraTargets = loraTargets ?? [] };
        options.Validate();
        using var weights = new HfWeightSource(checkpoint);
        options = options with { Weights = weights };
        ModelFolderWriter.WriteGraphs(to, options);
        var config = LlamaModelBuilder.Config(options, checkpoint.BosTokenId, checkpoint.EosTokenIds, checkpoint.PadTokenId) with { ModelType = checkpoint.ModelType };
        config.Save(Path.Combine(to, "genai_config.json"));
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            if (File.Exists(Path.Combine(from, file)))
            {
                File.Copy(Path.Combine(from, file), Path.Combine(to, file), overwrite: true);
            }
        }

        return checkpoint;
    }
}
