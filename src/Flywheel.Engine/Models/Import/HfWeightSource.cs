using Flywheel.Models.Building;

namespace Flywheel.Models.Import;

/// <summary>
/// The builder's weights read from a checkpoint's safetensors (memory-mapped, one tensor at a time): each graph
/// tensor maps to a Hugging Face name (or a block of rows of one, where Phi-3 fuses q/k/v and gate/up), and
/// nn.Linear weights ([out, in]) are transposed to MatMul's [in, out].
/// </summary>
public sealed class HfWeightSource : ILlamaWeightSource, IDisposable
{
    private readonly List<SafetensorsFile> _files = [];
    private readonly Dictionary<string, SafetensorsFile> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Source> _map;

    /// <summary>Opens the checkpoint's shards and checks that its tensors are exactly those the architecture uses.</summary>
    public HfWeightSource(HfCheckpoint checkpoint)
    {
        try
        {
            foreach (var path in checkpoint.Shards)
            {
                var file = SafetensorsFile.Open(path);
                _files.Add(file);
                foreach (var name in file.Tensors.Keys)
                {
                    _byName[name] = file;
                }
            }

            _map = Map(checkpoint);
            var needed = _map.Values.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            var missing = needed.Where(n => !_byName.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
            {
                throw new ModelConfigException($"{checkpoint.Directory}: checkpoint lacks {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}");
            }

            // Rotary inverse frequencies are recomputed from rope_theta; anything else unused would be ignored
            // silently, so it is refused (e.g. biases of a variant the builder does not write).
            var extra = _byName.Keys.Where(n => !needed.Contains(n) && !n.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) && !(checkpoint.TiedEmbeddings && n == "lm_head.weight"))
                .Order(StringComparer.Ordinal).ToList();
            if (extra.Count > 0)
            {
                throw new ModelConfigException($"{checkpoint.Directory}: tensors not supported by the importer: {string.Join(", ", extra.Take(5))}{(extra.Count > 5 ? $" and {extra.Count - 5} more" : "")}");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public float[] Tensor(string name, int count, double std, double mean = 0)
    {
        if (!_map.TryGetValue(name, out var source))
        {
            throw new ModelConfigException($"the importer has no checkpoint tensor for graph tensor '{name}'");
        }

        var file = _byName[source.Name];
        var entry = file.Tensors[source.Name];
        var twoD = entry.Shape.Length == 2;
        var columns = twoD ? (int)entry.Shape[1] : 1;
        var rows = source.RowCount > 0 ? source.RowCount : twoD ? (int)entry.Shape[0] : (int)entry.ElementCount;
        var fits = source.RowCount == 0 || (twoD && source.FirstRow + source.RowCount <= entry.Shape[0]);
        if (!fits || (long)rows * columns != count)
        {
            var part = source.RowCount > 0 ? $" (rows {source.FirstRow} to {source.FirstRow + source.RowCount})" : "";
            throw new ModelConfigException($"{file.Path}: '{source.Name}' has shape [{string.Join(", ", entry.Shape)}], expected {count} elements{part}");
        }

        var values = file.ReadFloats(source.Name);
        if (source.RowCount > 0)
        {
            values = values.AsSpan(source.FirstRow * columns, rows * columns).ToArray();
        }

        return source.Transpose ? Transpose(values, rows, columns) : values;
    }

    public void Dispose()
    {
        foreach (var file in _files)
        {
            file.Dispose();
        }

        _files.Clear();
    }

    /// <summary>A checkpoint tensor, or <paramref name="RowCount"/> of its rows from <paramref name="FirstRow"/> (0: all).</summary>
    private readonly record struct Source(string Name, bool Transpose, int FirstRow = 0, int RowCount = 0);

    private static Dictionary<string, Source> Map(HfCheckpoint checkpoint)
    {
        var map = new Dictionary<string, Source>(StringComparer.Ordinal)
        {
            [LlamaWeightNames.Embedding] = new("model.embed_tokens.weight", false),
            [LlamaWeightNames.FinalNorm] = new("model.norm.weight", false),
            [LlamaWeightNames.LmHead] = new(checkpoint.TiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", true),
        };
        var o = checkpoint.Options;
        var (qRows, kvRows) = (o.HeadCount * o.HeadSize, o.KvHeadCount * o.HeadSize);
        var fused = checkpoint.Architecture == "Phi3ForCausalLM";
        for (var layer = 0; layer < o.LayerCount; layer++)
        {
            var hf = $"model.layers.{layer}";
            map[LlamaWeightNames.InputNorm(layer)] = new($"{hf}.input_layernorm.weight", false);
            map[LlamaWeightNames.PostAttentionNorm(layer)] = new($"{hf}.post_attention_layernorm.weight", false);
            map[LlamaWeightNames.O(layer)] = new($"{hf}.self_attn.o_proj.weight", true);
            map[LlamaWeightNames.Down(layer)] = new($"{hf}.mlp.down_proj.weight", true);
            if (fused)
            {
                // Phi-3: qkv_proj is [q; k; v] and gate_up_proj is [gate; up] along the output rows.
                map[LlamaWeightNames.Q(layer)] = new($"{hf}.self_attn.qkv_proj.weight", true, 0, qRows);
                map[LlamaWeightNames.K(layer)] = new($"{hf}.self_attn.qkv_proj.weight", true, qRows, kvRows);
                map[LlamaWeightNames.V(layer)] = new($"{hf}.self_attn.qkv_proj.weight", true, qRows + kvRows, kvRows);
                map[LlamaWeightNames.Gate(layer)] = new($"{hf}.mlp.gate_up_proj.weight", true, 0, o.IntermediateSize);
                map[LlamaWeightNames.Up(layer)] = new($"{hf}.mlp.gate_up_proj.weight", true, o.IntermediateSize, o.IntermediateSize);
            }
            else
            {
                map[LlamaWeightNames.Q(layer)] = new($"{hf}.self_attn.q_proj.weight", true);
                map[LlamaWeightNames.K(layer)] = new($"{hf}.self_attn.k_proj.weight", true);
                map[LlamaWeightNames.V(layer)] = new($"{hf}.self_attn.v_proj.weight", true);
                map[LlamaWeightNames.Gate(layer)] = new($"{hf}.mlp.gate_proj.weight", true);
                map[LlamaWeightNames.Up(layer)] = new($"{hf}.mlp.up_proj.weight", true);
            }

            if (checkpoint.Options.QkNorm)
            {
                map[LlamaWeightNames.QNorm(layer)] = new($"{hf}.self_attn.q_norm.weight", false);
                map[LlamaWeightNames.KNorm(layer)] = new($"{hf}.self_attn.k_norm.weight", false);
            }

            if (checkpoint.Options.AttentionBias)
            {
                map[LlamaWeightNames.BiasOf(LlamaWeightNames.Q(layer))] = new($"{hf}.self_attn.q_proj.bias", false);
                map[LlamaWeightNames.BiasOf(LlamaWeightNames.K(layer))] = new($"{hf}.self_attn.k_proj.bias", false);
                map[LlamaWeightNames.BiasOf(LlamaWeightNames.V(layer))] = new($"{hf}.self_attn.v_proj.bias", false);
            }
        }

        return map;
    }

    private static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                result[(c * rows) + r] = values[(r * columns) + c];
            }
        }

        return result;
    }
}
