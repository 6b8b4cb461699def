using System.Text.Json.Nodes;
using Flywheel.Models;

namespace Flywheel.Engine.Tests.Models;

public sealed class ModelFolderTests
{
    private static string CopyTiny(Action<JsonObject> editConfig)
    {
        var dir = TestScratch.Path("folder-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(TinyModel.Dir))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        }

        var configPath = Path.Combine(dir, "genai_config.json");
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        editConfig(json);
        File.WriteAllText(configPath, json.ToJsonString());
        return dir;
    }

    private static ModelConfigException OpenFails(Action<JsonObject> edit)
    {
        var dir = CopyTiny(edit);
        return Assert.Throws<ModelConfigException>(() => ModelFolder.Open(dir).Dispose());
    }

    [Fact]
    public void BuiltFolderOpensAndMatchesItsConfig()
    {
        using var folder = ModelFolder.Open(TinyModel.Dir);
        Assert.Equal("llama", folder.Config.ModelType);
        Assert.True(folder.Config.Search.PastPresentShareBuffer);
        Assert.Equal(2 + (2 * folder.Config.Decoder.NumHiddenLayers), folder.Session.InputNames.Count);
        var past = folder.Session.InputMetadata["past_key_values.1.value"];
        Assert.Equal([-1, 2, -1, 16], past.Dimensions);
        Assert.Equal("past_key_values.1.value: Float[batch_size, 2, past_sequence_length, 16]", ModelFolder.Describe("past_key_values.1.value", past));
    }

    [Theory]
    [InlineData("model.decoder.head_size")]
    [InlineData("model.vocab_size")]
    [InlineData("model.type")]
    [InlineData("model.decoder.inputs.past_key_names")]
    public void MissingFieldIsNamed(string field)
    {
        var e = OpenFails(json =>
        {
            var parts = field.Split('.');
            var node = json;
            foreach (var p in parts[..^1])
            {
                node = node[p]!.AsObject();
            }

            node.Remove(parts[^1]);
        });
        Assert.Contains("genai_config.json", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void WrongTypesAndValuesAreNamed()
    {
        Assert.Contains("model.context_length", OpenFails(j => j["model"]!["context_length"] = "long").Message);
        Assert.Contains("model.decoder.num_hidden_layers", OpenFails(j => j["model"]!["decoder"]!["num_hidden_layers"] = 0).Message);
        Assert.Contains("%d", OpenFails(j => j["model"]!["decoder"]!["inputs"]!["past_key_names"] = "past.key").Message);
        Assert.Contains("search.past_present_share_buffer", OpenFails(j => j["search"]!["past_present_share_buffer"] = "yes").Message);
    }

    [Fact]
    public void MalformedJsonAndMissingFilesAreReported()
    {
        var dir = CopyTiny(_ => { });
        File.WriteAllText(Path.Combine(dir, "genai_config.json"), "{ \"model\": ");
        Assert.Contains("malformed JSON", Assert.Throws<ModelConfigException>(() => ModelFolder.Open(dir)).Message);
        File.Delete(Path.Combine(dir, "genai_config.json"));
        Assert.Contains("not found", Assert.Throws<ModelConfigException>(() => ModelFolder.Open(dir)).Message);
        Assert.Contains("model.decoder.filename", OpenFails(j => j["model"]!["decoder"]!["filename"] = "other.onnx").Message);
    }

    [Fact]
    public void ConfigThatDisagreesWithTheGraphIsRejected()
    {
        var renamed = OpenFails(j => j["model"]!["decoder"]!["inputs"]!["attention_mask"] = "mask");
        Assert.Contains("'mask'", renamed.Message);
        Assert.Contains("attention_mask", renamed.Message);
        var fewerLayers = OpenFails(j => j["model"]!["decoder"]!["num_hidden_layers"] = 1).Message;
        Assert.Contains("has 6 inputs but the config describes 4", fewerLayers);
        Assert.Contains("num_hidden_layers", fewerLayers);
        Assert.Contains("num_key_value_heads", OpenFails(j => j["model"]!["decoder"]!["num_key_value_heads"] = 4).Message);
        Assert.Contains("present", OpenFails(j => j["model"]!["decoder"]!["outputs"]!["present_key_names"] = "present_%d_key").Message);
    }

    [Fact]
    public void ProviderOptionsWithACudaEntryAndADeviceFieldStillLoadOnTheCpu()
    {
        // The shape ORT GenAI's CUDA exports write, plus entries and fields Flywheel does not use.
        var dir = CopyTiny(json => json["model"]!["decoder"]!["session_options"] = JsonNode.Parse("""
            {"log_id": "onnxruntime-genai", "device": "cuda",
             "provider_options": [{"cuda": {"device_id": "0", "enable_cuda_graph": 0, "enable_skip_layer_norm_strict_mode": true}},
                                  {"device": "cuda"}, {"dml": {}}, "webgpu"]}
            """));
        using var folder = ModelFolder.Open(dir);
        Assert.Equal(Flywheel.Onnx.ExecutionDevice.Cpu, folder.Device);
        Assert.Equal(
            new Dictionary<string, string> { ["device_id"] = "0", ["enable_cuda_graph"] = "0", ["enable_skip_layer_norm_strict_mode"] = "true" },
            folder.Config.Decoder.CudaProviderOptions);
    }

    [Fact]
    public void NoProviderOptionsMeansNoCudaOptions()
    {
        using var folder = ModelFolder.Open(TinyModel.Dir);
        Assert.Null(folder.Config.Decoder.CudaProviderOptions);
    }

    [Fact]
    public void ACudaEntryThatIsNotAnObjectIsNamed()
    {
        var e = OpenFails(json => json["model"]!["decoder"]!["session_options"] = JsonNode.Parse("""{"provider_options": [{"cuda": "0"}]}"""));
        Assert.Contains("model.decoder.session_options.provider_options[0].cuda", e.Message);
    }
}
