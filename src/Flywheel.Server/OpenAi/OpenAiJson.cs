using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Flywheel.Server.OpenAi;

/// <summary>The serializer settings for everything the server writes.</summary>
internal static class OpenAiJson
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            // Bodies are JSON for API clients, never embedded in HTML: keep text readable ("'" not "\u0027").
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { WriteNullUsageWhenAsked } },
        };
        options.MakeReadOnly();
        return options;
    }

    // OpenAI leaves "usage" out of stream chunks, except with include_usage, where every chunk but the
    // last carries "usage": null. The records mark usage WhenWritingNull; this restores the null on request.
    private static void WriteNullUsageWhenAsked(JsonTypeInfo info)
    {
        if (info.Type == typeof(ChatCompletionChunk))
        {
            SetUsageCondition(info, o => ((ChatCompletionChunk)o).WriteNullUsage);
        }
        else if (info.Type == typeof(TextCompletion))
        {
            SetUsageCondition(info, o => ((TextCompletion)o).WriteNullUsage);
        }
    }

    private static void SetUsageCondition(JsonTypeInfo info, Func<object, bool> writeNull)
    {
        foreach (var property in info.Properties)
        {
            if (property.Name == "usage")
            {
                property.ShouldSerialize = (owner, value) => value is not null || writeNull(owner);
            }
        }
    }
}
