using System.Text.Json;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Client;

/// <summary>
/// Writes the JSON body of a request. Besides the OpenAI fields it sets <c>ignore_eos: true</c>,
/// a vLLM extension (also honoured by Flywheel) that keeps generating to <c>max_tokens</c> so output
/// lengths are as planned; servers that do not know it usually ignore it (outputs may then end early),
/// and a scenario can turn it off for servers that reject unknown fields. Structured requests leave it out: a schema-constrained answer must be allowed to end when the
/// JSON value is complete, so for them max_tokens is only a cap.
/// </summary>
internal static class RequestBodyWriter
{
    public static byte[] Write(RequestPlan plan, string? model)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (model is not null)
            {
                json.WriteString("model", model);
            }
            if (plan.Endpoint == ApiEndpoint.Chat)
            {
                json.WriteStartArray("messages");
                json.WriteStartObject();
                json.WriteString("role", "user");
                json.WriteString("content", plan.Prompt);
                json.WriteEndObject();
                json.WriteEndArray();
            }
            else
            {
                json.WriteString("prompt", plan.Prompt);
            }
            json.WriteNumber("max_tokens", plan.MaxTokens);
            if (plan.IgnoreEos)
            {
                json.WriteBoolean("ignore_eos", true);
            }
            if (plan.Temperature is { } temperature)
            {
                json.WriteNumber("temperature", temperature);
            }
            json.WriteBoolean("stream", plan.Stream);
            if (plan.Stream)
            {
                json.WriteStartObject("stream_options");
                json.WriteBoolean("include_usage", true);
                json.WriteEndObject();
            }
            if (plan.SchemaJson is { } schema)
            {
                json.WriteStartObject("response_format");
                json.WriteString("type", "json_schema");
                json.WriteStartObject("json_schema");
                json.WriteString("name", "loadgen_schema");
                json.WritePropertyName("schema");
                json.WriteRawValue(schema);
                json.WriteBoolean("strict", true);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
