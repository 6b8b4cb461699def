using System.Globalization;
using System.Text;
using Flywheel.LoadGen.Client;

namespace Flywheel.LoadGen.Reports;

/// <summary>
/// requests.csv: one row per request (warm-up included, flagged), times in milliseconds except
/// start_s. model is the name a <c>--models</c> run sent (empty otherwise). The last column, itl_ms, lists
/// every inter-token gap separated by ';'.
/// </summary>
internal static class RequestsCsv
{
    public const string Header =
        "step,index,warmup,start_s,success,error,http_status,endpoint,structured,planned_prompt_tokens,planned_output_tokens," +
        "prompt_tokens,output_tokens,content_chunks,ttft_ms,tpot_ms,e2e_ms,model,itl_ms";

    public static void Write(TextWriter writer, IEnumerable<RequestRecord> records)
    {
        writer.Write(Header);
        writer.Write('\n');
        var line = new StringBuilder();
        foreach (var r in records)
        {
            line.Clear();
            line.Append(CultureInfo.InvariantCulture,
                $"{r.Step},{r.Index},{Bool(r.IsWarmup)},{r.StartSeconds:0.######},{Bool(r.Success)},{r.ErrorKind},{r.HttpStatus},");
            line.Append(CultureInfo.InvariantCulture,
                $"{r.Endpoint.ToString().ToLowerInvariant()},{Bool(r.IsStructured)},{r.PlannedPromptTokens},{r.PlannedOutputTokens},");
            line.Append(CultureInfo.InvariantCulture,
                $"{r.PromptTokens},{r.OutputTokens},{r.ContentChunkCount},{Ms(r.TtftSeconds)},{Ms(r.TpotSeconds)},{Ms(r.E2eSeconds)},{r.Model},");
            line.AppendJoin(';', r.ItlSeconds.Select(s => Ms(s)));
            line.Append('\n');
            writer.Write(line);
        }
    }

    private static string Bool(bool value) => value ? "1" : "0";

    private static string Ms(double? seconds) =>
        seconds is { } s ? (s * 1000).ToString("0.###", CultureInfo.InvariantCulture) : "";
}
