using System.Diagnostics;
using System.Text;
using Flywheel.Serving.Tools;
using Flywheel.Structured;

namespace Flywheel.Benchmarks;

/// <summary>
/// What tool_choice auto's constraint costs on a 128k vocabulary (Llama-3's when FLYWHEEL_TEST_ASSETS is set): the
/// one-time marker table build, the mask of each free-text step (a copy of the marker's forbidden set), and the
/// masks of the call once it is open (the call grammar's own), against the plain grammar's masks for the same call;
/// then the Llama-3 JSON trigger: its one-time opening-token table, the first step's mask (text, whitespace, the
/// python tag's pieces and the call grammar's first mask), a text step's mask, and the in-call masks.
/// </summary>
internal sealed class ToolTriggerBenchmark : IBenchmark
{
    private const string Call = """{"name":"get_weather","arguments":{"city":"Paris","unit":"celsius","days":3}}""";

    public string Name => "tool-trigger";

    public string Description => "tool_choice auto: marker table build, free-text and in-call mask times on a 128k vocabulary";

    public int Run(string[] args)
    {
        var (vocab, source) = GrammarBenchmark.LoadVocabulary();
        Console.WriteLine($"vocabulary: {vocab.Count} tokens ({source})");
        var tools = new[]
        {
            new ToolDefinition("get_weather", null, """{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]},"days":{"type":"integer","minimum":1}},"required":["city"],"additionalProperties":false}"""),
            new ToolDefinition("get_time", null, """{"type":"object","properties":{"timezone":{"type":"string"}},"required":["timezone"]}"""),
        };
        var grammar = JsonSchemaGrammar.Compile(ToolCallSchema.Build(tools, several: false), new JsonSchemaCompileOptions { MaxWhitespace = 0 });

        var clock = Stopwatch.StartNew();
        _ = MarkerTable.For(vocab, ToolCallParser.OpenTag);
        Console.WriteLine($"marker table build: {clock.Elapsed.TotalMilliseconds:F1} ms (once per vocabulary)");
        clock.Restart();
        _ = WhitespaceTokens.For(vocab);
        Console.WriteLine($"whitespace token set: {clock.Elapsed.TotalMilliseconds:F1} ms (once per vocabulary)");

        var callTokens = Tokenize(vocab, grammar, Call);
        var (free, triggerCold) = RunTrigger(vocab, grammar, callTokens);
        var (_, triggerWarm) = RunTrigger(vocab, grammar, callTokens);
        // The plain constraint on a grammar compiled apart, so its first masks are as cold as the trigger's first ones.
        var plainGrammar = JsonSchemaGrammar.Compile(ToolCallSchema.Build(tools, several: false), new JsonSchemaCompileOptions { MaxWhitespace = 0 });
        var plainCold = Replay(new GrammarConstraint(plainGrammar, vocab, 4096), callTokens);
        var plainWarm = Replay(new GrammarConstraint(plainGrammar, vocab, 4096), callTokens);
        Console.WriteLine($"free-text mask us p50/p99/max over {free.Count} steps: {Stats(free)}");
        Console.WriteLine($"in-call mask us p50/p99/max over {callTokens.Count} tokens, first call:  trigger {Stats(triggerCold)}, plain grammar {Stats(plainCold)}");
        Console.WriteLine($"in-call mask us p50/p99/max over {callTokens.Count} tokens, second call: trigger {Stats(triggerWarm)}, plain grammar {Stats(plainWarm)}");
        RunLlama(vocab, tools);
        return 0;
    }

    /// <summary>The Llama-3 trigger: table build, first-step and text-step masks, and a call's masks (second answer, warm).</summary>
    private static void RunLlama(TokenVocabulary vocab, ToolDefinition[] tools)
    {
        var grammar = JsonSchemaGrammar.Compile(ToolCallSchema.Build(tools, several: false, argumentsKey: "parameters"), new JsonSchemaCompileOptions { MaxWhitespace = 0 });
        var clock = Stopwatch.StartNew();
        _ = LlamaOpeningTokens.For(vocab);
        Console.WriteLine($"llama opening-token table build: {clock.Elapsed.TotalMilliseconds:F1} ms (once per vocabulary)");
        var callTokens = Tokenize(vocab, grammar, Call.Replace("\"arguments\"", "\"parameters\"", StringComparison.Ordinal));
        var text = Enumerable.Range(0, vocab.Count).First(t => vocab.BytesOf(t).SequenceEqual("The"u8));
        List<double> opening = [], textSteps = [], inCall = [];
        var mask = new uint[vocab.MaskLength];
        for (var answer = 0; answer < 200; answer++)
        {
            // Even answers are text (200 text steps each), odd ones the call.
            var trigger = new LlamaCallTrigger(grammar, vocab, maxTokens: 4096);
            var started = Stopwatch.GetTimestamp();
            trigger.ComputeMask(mask);
            opening.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            if (answer % 2 == 0)
            {
                trigger.TryAccept(text);
                for (var step = 0; step < 200; step++)
                {
                    started = Stopwatch.GetTimestamp();
                    trigger.ComputeMask(mask);
                    textSteps.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    trigger.TryAccept(text);
                }
            }
            else
            {
                trigger.TryAccept(callTokens[0]);
                var times = Replay(trigger, callTokens[1..]);
                if (answer > 1)
                {
                    inCall.AddRange(times);
                }

                if (!trigger.IsFinished)
                {
                    throw new InvalidOperationException("the Llama call did not finish the answer");
                }
            }
        }

        Console.WriteLine($"llama first-step mask us p50/p99/max over {opening.Count} answers: {Stats(opening)}");
        Console.WriteLine($"llama text-step mask us p50/p99/max over {textSteps.Count} steps: {Stats(textSteps)}");
        Console.WriteLine($"llama in-call mask us p50/p99/max over {inCall.Count} tokens (warm calls): {Stats(inCall)}");
    }

    /// <summary>2,000 steps of free text, the marker, then the call: the free-text and in-call mask times.</summary>
    private static (List<double> Free, List<double> InCall) RunTrigger(TokenVocabulary vocab, JsonSchemaGrammar grammar, List<int> callTokens)
    {
        var trigger = new ToolCallTrigger(grammar, vocab, maxTokens: 4096);
        var mask = new uint[trigger.MaskLength];
        var random = new Random(7);
        var free = new List<double>();
        for (var step = 0; step < 2000; step++)
        {
            var started = Stopwatch.GetTimestamp();
            trigger.ComputeMask(mask);
            free.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            int token;
            do
            {
                token = random.Next(vocab.Count);
            }
            while (!MarkerTable.Has(mask, token) || vocab.BytesOf(token).IndexOf((byte)'<') >= 0 || vocab.IsEos(token));

            trigger.TryAccept(token);
        }

        var open = Encoding.UTF8.GetBytes(ToolCallParser.OpenTag);
        var openToken = Enumerable.Range(0, vocab.Count).FirstOrDefault(t => vocab.BytesOf(t).SequenceEqual(open), -1);
        foreach (var b in openToken >= 0 ? [openToken] : SingleBytes(vocab, ToolCallParser.OpenTag))
        {
            trigger.ComputeMask(mask);
            trigger.TryAccept(b);
        }

        var inCall = Replay(trigger, callTokens);
        return trigger.IsFinished ? (free, inCall) : throw new InvalidOperationException("the call did not finish the answer");
    }

    private static List<double> Replay(Flywheel.Sampling.ITokenConstraint constraint, List<int> tokens)
    {
        var mask = new uint[constraint.MaskLength];
        var times = new List<double>();
        foreach (var token in tokens)
        {
            var started = Stopwatch.GetTimestamp();
            constraint.ComputeMask(mask);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            if (!constraint.TryAccept(token))
            {
                throw new InvalidOperationException($"token {token} refused");
            }
        }

        return times;
    }

    /// <summary>The call's tokens, longest allowed first (as a tokenizer would merge), then end-of-sequence.</summary>
    private static List<int> Tokenize(TokenVocabulary vocab, JsonSchemaGrammar grammar, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var tokens = new List<int>();
        for (var at = 0; at < bytes.Length;)
        {
            var best = -1;
            for (var t = 0; t < vocab.Count; t++)
            {
                var b = vocab.BytesOf(t);
                if (b.Length > 0 && (best < 0 || b.Length > vocab.BytesOf(best).Length) && bytes.AsSpan(at).StartsWith(b))
                {
                    best = t;
                }
            }

            tokens.Add(best);
            at += vocab.BytesOf(best).Length;
        }

        tokens.Add(vocab.EosTokenIds[0]);
        var check = grammar.CreateByteMatcher();
        return check.TryAdvance(bytes) && check.IsComplete ? tokens : throw new InvalidOperationException("the call does not match its grammar");
    }

    private static IEnumerable<int> SingleBytes(TokenVocabulary vocab, string text) =>
        Encoding.UTF8.GetBytes(text).Select(c => Enumerable.Range(0, vocab.Count).First(t => vocab.BytesOf(t) is [var only] && only == c));

    private static string Stats(List<double> us)
    {
        us.Sort();
        return $"{us[us.Count / 2]:F1}/{us[(int)(us.Count * 0.99)]:F1}/{us[^1]:F0}";
    }
}
