using System.Text.Json;
using Flywheel.Serving;
using Flywheel.Serving.Tools;
using Flywheel.Templates;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// Turns a request body into an <see cref="ApiRequest"/>, or throws an <see cref="OpenAiError"/> (400)
/// naming the offending parameter. Unknown parameters are refused, not ignored, so a misspelt
/// option never silently falls back to a default.
/// </summary>
public static class OpenAiRequestParser
{
    /// <summary>Largest number of stop strings accepted.</summary>
    public const int MaxStopCount = 16;

    /// <summary>Largest max_repairs accepted (each repair is a whole extra generation).</summary>
    public const int MaxRepairCount = 5;

    /// <summary>Largest top-N log probabilities accepted.</summary>
    public const int MaxTopLogprobs = 20;

    public static ApiRequest ParseCompletion(JsonElement body)
    {
        var r = new RequestParameterReader(body);
        var request = new ApiRequest
        {
            IsChat = false,
            Model = r.RequiredString("model"),
            Prompt = ParsePrompt(r),
            MaxTokens = r.Int("max_tokens", 1, int.MaxValue),
            TopLogprobs = r.Int("logprobs", 0, MaxTopLogprobs),
        };
        if (r.Bool("echo") == true)
        {
            throw OpenAiError.BadRequest("echo=true is not supported.", "echo");
        }

        if (r.TryGet("suffix", out var suffix) && suffix.ValueKind != JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest("suffix is not supported.", "suffix");
        }

        var bestOf = r.Int("best_of", 1, int.MaxValue);
        if (bestOf is > 1)
        {
            throw OpenAiError.BadRequest("best_of > 1 is not supported; send separate requests.", "best_of");
        }

        return ParseCommon(r, request);
    }

    public static ApiRequest ParseChat(JsonElement body)
    {
        var r = new RequestParameterReader(body);
        var maxTokens = r.Int("max_tokens", 1, int.MaxValue);
        var maxCompletionTokens = r.Int("max_completion_tokens", 1, int.MaxValue);
        var wantLogprobs = r.Bool("logprobs") ?? false;
        var topLogprobs = r.Int("top_logprobs", 0, MaxTopLogprobs);
        if (topLogprobs is not null && !wantLogprobs)
        {
            throw OpenAiError.BadRequest("top_logprobs requires logprobs=true.", "top_logprobs");
        }

        foreach (var unsupported in new[] { "functions", "function_call", "audio", "modalities", "prediction" })
        {
            if (r.TryGet(unsupported, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                throw OpenAiError.BadRequest($"'{unsupported}' is not supported by this server.", unsupported);
            }
        }

        var (tools, toolChoice, parallel) = ToolParameterParser.Parse(r);
        var request = new ApiRequest
        {
            IsChat = true,
            Model = r.RequiredString("model"),
            Messages = ParseMessages(r),
            MaxTokens = maxCompletionTokens ?? maxTokens,
            TopLogprobs = wantLogprobs ? topLogprobs ?? 0 : null,
            Tools = tools,
            ToolChoice = toolChoice,
            ParallelToolCalls = parallel,
        };
        var result = ParseCommon(r, request);
        if (result.ToolChoice.Mode != ToolChoiceMode.None && result.ResponseFormat.Kind != ResponseFormatKind.Text)
        {
            // A call's output is already a schema of its own; an answer that may be either is not supported.
            throw OpenAiError.BadRequest("response_format json_object or json_schema can be combined with tools only when tool_choice is 'none'.", "response_format");
        }

        return result;
    }

    private static ApiRequest ParseCommon(RequestParameterReader r, ApiRequest request)
    {
        var n = r.Int("n", 1, int.MaxValue);
        if (n is > 1)
        {
            throw OpenAiError.BadRequest("n > 1 is not supported; send separate requests.", "n");
        }

        if (r.TryGet("logit_bias", out var bias) && bias.ValueKind == JsonValueKind.Object && bias.EnumerateObject().Any())
        {
            throw OpenAiError.BadRequest("logit_bias is not supported.", "logit_bias");
        }

        var streamOptions = r.Object("stream_options");
        var stream = r.Bool("stream") ?? false;
        var includeUsage = false;
        if (streamOptions is { } so)
        {
            if (!stream)
            {
                throw OpenAiError.BadRequest("stream_options is only allowed when stream is true.", "stream_options");
            }

            var sr = new RequestParameterReader(so, "stream_options.");
            includeUsage = sr.Bool("include_usage") ?? false;
            sr.EnsureNoUnknown();
        }

        var constrained = r.Bool("constrained_decoding");
        var whitespace = r.String("json_whitespace");
        var result = request with
        {
            Temperature = r.Double("temperature", 0, 2) ?? 1.0,
            TopP = r.Double("top_p", 0, 1, minExclusive: true) ?? 1.0,
            TopK = NormalizeTopK(r.Int("top_k", -1, int.MaxValue)),
            MinP = r.Double("min_p", 0, 1) ?? 0,
            Seed = r.Long("seed"),
            Stop = ParseStop(r),
            PresencePenalty = r.Double("presence_penalty", -2, 2) ?? 0,
            FrequencyPenalty = r.Double("frequency_penalty", -2, 2) ?? 0,
            RepetitionPenalty = r.Double("repetition_penalty", 0, 2, minExclusive: true) ?? 1,
            Stream = stream,
            IncludeUsage = includeUsage,
            User = r.String("user"),
            ResponseFormat = ParseResponseFormat(r) with { Whitespace = ParseWhitespace(whitespace) },
            IgnoreEos = r.Bool("ignore_eos") ?? false,
            ConstrainedDecoding = constrained ?? true,
            MaxRepairs = r.Int("max_repairs", 0, MaxRepairCount),
        };
        r.EnsureNoUnknown();
        // Tool calls (any tool_choice but none) are constrained, validated and repaired like a response_format
        // answer, so the two switches apply to them; the whitespace mode does not (call grammars are compact).
        var calls = result.ToolChoice.Mode != ToolChoiceMode.None;
        var misplaced = result.ResponseFormat.Kind != ResponseFormatKind.Text ? null
            : constrained is not null && !calls ? "constrained_decoding"
            : result.MaxRepairs is not null && !calls ? "max_repairs"
            : whitespace is not null ? "json_whitespace" : null;
        if (misplaced is not null)
        {
            var where = misplaced == "json_whitespace" ? "" : ", or with tools and a tool_choice other than none";
            throw OpenAiError.BadRequest($"'{misplaced}' applies only with response_format json_object or json_schema{where}.", misplaced);
        }

        return result;
    }

    /// <summary>The <c>json_whitespace</c> extension: compact, bounded (the default) or any.</summary>
    private static JsonWhitespace ParseWhitespace(string? value) => value switch
    {
        null or "bounded" => JsonWhitespace.Bounded,
        "compact" => JsonWhitespace.Compact,
        "any" => JsonWhitespace.Any,
        _ => throw OpenAiError.BadRequest($"json_whitespace must be compact, bounded or any; got '{value}'.", "json_whitespace"),
    };

    private static int NormalizeTopK(int? topK) => topK is null or -1 or 0 ? 0 : topK.Value;

    private static string ParsePrompt(RequestParameterReader r)
    {
        if (!r.TryGet("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest("'prompt' is required.", "prompt");
        }

        if (prompt.ValueKind == JsonValueKind.String)
        {
            return prompt.GetString()!;
        }

        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String)
        {
            return prompt[0].GetString()!;
        }

        throw OpenAiError.BadRequest(
            "'prompt' must be a string (or an array holding one string); batches of prompts and token-id prompts are not supported.",
            "prompt");
    }

    private static IReadOnlyList<string> ParseStop(RequestParameterReader r)
    {
        if (!r.TryGet("stop", out var stop) || stop.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        var stops = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                stop.EnumerateArray().Select(e => e.GetString()!).ToList(),
            _ => throw OpenAiError.BadRequest("'stop' must be a string or an array of strings.", "stop"),
        };
        if (stops.Count > MaxStopCount)
        {
            throw OpenAiError.BadRequest($"'stop' may hold at most {MaxStopCount} strings.", "stop");
        }

        if (stops.Any(s => s.Length == 0))
        {
            throw OpenAiError.BadRequest("'stop' strings must not be empty.", "stop");
        }

        return stops;
    }

    private static IReadOnlyList<ChatMessage> ParseMessages(RequestParameterReader r)
    {
        if (!r.TryGet("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiError.BadRequest("'messages' is required and must be an array.", "messages");
        }

        if (messages.GetArrayLength() == 0)
        {
            throw OpenAiError.BadRequest("'messages' must not be empty.", "messages");
        }

        var list = new List<ChatMessage>();
        var index = 0;
        foreach (var m in messages.EnumerateArray())
        {
            var prefix = $"messages[{index}].";
            if (m.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiError.BadRequest($"{prefix[..^1]} must be an object.", prefix[..^1]);
            }

            var mr = new RequestParameterReader(m, prefix);
            var role = mr.RequiredString("role");
            if (role is not ("system" or "developer" or "user" or "assistant" or "tool"))
            {
                throw OpenAiError.BadRequest($"{prefix}role must be one of system, developer, user, assistant, tool; got '{role}'.", prefix + "role");
            }

            var content = ParseContent(mr, prefix, role);
            mr.String("name");
            var toolCallId = mr.String("tool_call_id");
            var calls = ToolParameterParser.ParseCalls(mr, prefix, role);
            mr.EnsureNoUnknown();
            var message = new ChatMessage(role == "developer" ? "system" : role, content)
            {
                ToolCalls = calls,
                ToolCallId = role == "tool" ? toolCallId : null,
            };
            if (role == "tool")
            {
                ToolParameterParser.CheckToolTurn(list, message, prefix);
            }

            list.Add(message);
            index++;
        }

        return list;
    }

    private static string ParseContent(RequestParameterReader mr, string prefix, string role)
    {
        if (!mr.TryGet("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            if (role == "assistant")
            {
                return "";
            }

            throw OpenAiError.BadRequest($"{prefix}content is required.", prefix + "content");
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiError.BadRequest($"{prefix}content must be a string or an array of text parts.", prefix + "content");
        }

        var text = new System.Text.StringBuilder();
        var i = 0;
        foreach (var part in content.EnumerateArray())
        {
            var partPrefix = $"{prefix}content[{i++}].";
            if (part.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiError.BadRequest($"{partPrefix[..^1]} must be an object.", partPrefix[..^1]);
            }

            var pr = new RequestParameterReader(part, partPrefix);
            var type = pr.RequiredString("type");
            if (type != "text")
            {
                throw OpenAiError.BadRequest($"content part type '{type}' is not supported; only text.", partPrefix + "type");
            }

            text.Append(pr.RequiredString("text"));
            pr.EnsureNoUnknown();
        }

        return text.ToString();
    }

    private static ResponseFormat ParseResponseFormat(RequestParameterReader r)
    {
        if (r.Object("response_format") is not { } format)
        {
            return ResponseFormat.Text;
        }

        var fr = new RequestParameterReader(format, "response_format.");
        var type = fr.RequiredString("type");
        ResponseFormat result;
        switch (type)
        {
            case "text":
                result = ResponseFormat.Text;
                break;
            case "json_object":
                result = new ResponseFormat(ResponseFormatKind.JsonObject);
                break;
            case "json_schema":
                var schemaObject = fr.Object("json_schema") ?? throw OpenAiError.BadRequest("response_format.json_schema is required when type is json_schema.", "response_format.json_schema");
                var sr = new RequestParameterReader(schemaObject, "response_format.json_schema.");
                var name = sr.RequiredString("name");
                sr.String("description");
                if (!sr.TryGet("schema", out var schema) || schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
                {
                    throw OpenAiError.BadRequest("response_format.json_schema.schema is required and must be a JSON Schema object.", "response_format.json_schema.schema");
                }

                var strict = sr.Bool("strict") ?? false;
                sr.EnsureNoUnknown();
                result = new ResponseFormat(ResponseFormatKind.JsonSchema, name, schema.GetRawText(), strict);
                break;
            default:
                throw OpenAiError.BadRequest($"response_format.type must be text, json_object or json_schema; got '{type}'.", "response_format.type");
        }

        fr.EnsureNoUnknown();
        return result;
    }
}
