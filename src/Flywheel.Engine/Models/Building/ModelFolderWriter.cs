using System.Text.Json;

namespace Flywheel.Models.Building;

/// <summary>
/// Writes a complete ORT GenAI model folder: model.onnx, genai_config.json and the tokenizer files, plus
/// <see cref="LlamaModelBuilder.MixedFileName"/> (the same weights as one graph for decodes and a chunk together).
/// </summary>
public static class ModelFolderWriter
{
    /// <summary>
    /// Builds the model into <paramref name="directory"/>. With <paramref name="tokenizerJsonPath"/>, copies that
    /// tokenizer.json (and the tokenizer_config.json beside it) and sizes the vocabulary to it; otherwise
    /// <paramref name="writeTokenizer"/>, if given, writes a tokenizer for the options' vocabulary size.
    /// Returns the options actually used (the vocabulary may have changed).
    /// </summary>
    public static ModelBuilderOptions Write(string directory, ModelBuilderOptions options, string? tokenizerJsonPath, Action<string, int>? writeTokenizer = null)
    {
        Directory.CreateDirectory(directory);
        int bos = 0, pad = 0;
        IReadOnlyList<int> eos = [Math.Max(0, options.VocabSize - 1)];
        if (tokenizerJsonPath is not null)
        {
            var info = TokenizerFileInfo.Read(tokenizerJsonPath);
            options = options with { VocabSize = info.VocabSize };
            (bos, eos, pad) = (info.BosTokenId ?? 0, info.EosTokenIds.Count > 0 ? info.EosTokenIds : eos, info.EosTokenIds.Count > 0 ? info.EosTokenIds[0] : 0);
            File.Copy(tokenizerJsonPath, Path.Combine(directory, "tokenizer.json"), overwrite: true);
            var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "tokenizer_config.json");
            if (File.Exists(configPath))
            {
                File.Copy(configPath, Path.Combine(directory, "tokenizer_config.json"), overwrite: true);
            }
        }
        else if (writeTokenizer is not null)
        {
            writeTokenizer(directory, options.VocabSize);
            var info = TokenizerFileInfo.Read(Path.Combine(directory, "tokenizer.json"));
            (bos, eos, pad) = (info.BosTokenId ?? 0, info.EosTokenIds.Count > 0 ? info.EosTokenIds : eos, info.EosTokenIds.Count > 0 ? info.EosTokenIds[0] : 0);
        }

        WriteGraphs(directory, options);
        LlamaModelBuilder.Config(options, bos, eos, pad).Save(Path.Combine(directory, "genai_config.json"));
        return options;
    }

    /// <summary>File name of the external data beside model.onnx, the name ORT GenAI's builder uses.</summary>
    public const string ExternalDataFileName = "model.onnx.data";

    /// <summary>
    /// Writes model.onnx and <see cref="LlamaModelBuilder.MixedFileName"/>. With external data
    /// (<see cref="ModelBuilderOptions.WritesExternalData"/>) each weight goes to <see cref="ExternalDataFileName"/> as
    /// soon as it is made, so only one tensor is in memory at a time, and both graphs refer to the same bytes.
    /// </summary>
    public static void WriteGraphs(string directory, ModelBuilderOptions options)
    {
        Directory.CreateDirectory(directory);
        var dataPath = Path.Combine(directory, ExternalDataFileName);
        if (!options.WritesExternalData)
        {
            File.Delete(dataPath); // a stale file from an earlier build would only mislead
            LlamaModelBuilder.BuildGraph(options).Save(Path.Combine(directory, "model.onnx"));
            LlamaModelBuilder.BuildMixedGraph(options).Save(Path.Combine(directory, LlamaModelBuilder.MixedFileName));
            return;
        }

        using var data = new Onnx.Proto.ExternalDataWriter(directory, ExternalDataFileName);
        var streaming = options with { DataWriter = data };
        LlamaModelBuilder.BuildGraph(streaming).Save(Path.Combine(directory, "model.onnx"));
        LlamaModelBuilder.BuildMixedGraph(streaming).Save(Path.Combine(directory, LlamaModelBuilder.MixedFileName));
    }
}

/// <summary>What the builder needs from a tokenizer.json (and the tokenizer_config.json beside it).</summary>
internal sealed record TokenizerFileInfo(int VocabSize, int? BosTokenId, IReadOnlyList<int> EosTokenIds)
{
    public static TokenizerFileInfo Read(string tokenizerJsonPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(tokenizerJsonPath));
        var root = doc.RootElement;
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var max = -1;
        if (root.TryGetProperty("model", out var model) && model.TryGetProperty("vocab", out var vocab))
        {
            if (vocab.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in vocab.EnumerateObject())
                {
                    ids[p.Name] = p.Value.GetInt32();
                    max = Math.Max(max, p.Value.GetInt32());
                }
            }
            else if (vocab.ValueKind == JsonValueKind.Array)
            {
                // Unigram: [[piece, score], ...], ids by position.
                var i = 0;
                foreach (var entry in vocab.EnumerateArray())
                {
                    ids[entry[0].GetString()!] = i++;
                }

                max = i - 1;
            }
        }

        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in added.EnumerateArray())
            {
                var id = t.GetProperty("id").GetInt32();
                ids[t.GetProperty("content").GetString()!] = id;
                max = Math.Max(max, id);
            }
        }

        if (max < 0)
        {
            throw new ModelConfigException($"{tokenizerJsonPath}: no vocabulary found (model.vocab).");
        }

        int? bos = null;
        var eos = new List<int>();
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using var config = JsonDocument.Parse(File.ReadAllText(configPath));
            bos = Lookup(config.RootElement, "bos_token", ids);
            if (Lookup(config.RootElement, "eos_token", ids) is { } e)
            {
                eos.Add(e);
            }
        }

        return new TokenizerFileInfo(max + 1, bos, eos);
    }

    private static int? Lookup(JsonElement config, string field, Dictionary<string, int> ids)
    {
        if (!config.TryGetProperty(field, out var value))
        {
            return null;
        }

        // Either "<s>" or {"content": "<s>", ...}.
        var text = value.ValueKind == JsonValueKind.String ? value.GetString()
            : value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var c) ? c.GetString() : null;
        return text is not null && ids.TryGetValue(text, out var id) ? id : null;
    }
}
