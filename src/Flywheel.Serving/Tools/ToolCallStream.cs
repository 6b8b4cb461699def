using System.Runtime.CompilerServices;
using System.Text;
using Flywheel.Sampling;

namespace Flywheel.Serving.Tools;

/// <summary>
/// Turns a request's text updates into tool calls. Under <c>required</c> or a named choice the whole answer is a
/// grammar-enforced call in the neutral form (<see cref="ToolCallSchema"/>), so nothing of it is text. Under
/// <c>auto</c> text streams as it comes until a call may be starting (the family's opening marker, or a Llama-3
/// answer opening with a JSON object); from there the answer is held and parsed when it ends, and the text it holds
/// outside the calls goes out then as content. Calls go out as <see cref="ToolCallDelta"/>s, the first piece of each
/// with its id and name, then its arguments: constrained forced calls as they are generated
/// (<see cref="NeutralCallScanner"/>), the others when the answer ends. Only calls that validate are calls; the
/// <see cref="Finished"/> event lists them. Held text keeps its tokens: they go out on empty deltas. A forced call
/// cut short after its pieces went out (a stop string) ends as that partial call, never repeated as text.
/// </summary>
internal static class ToolCallStream
{
    /// <param name="constrained">Whether the grammar held the calls (constrained_decoding): only then can a forced call stream as it is written.</param>
    public static async IAsyncEnumerable<GenerationUpdate> Translate(IAsyncEnumerable<GenerationUpdate> updates, ToolPlan plan, bool constrained,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var forced = plan.Forced is not null;
        // Unconstrained, a forced answer may be anything: it is held, and judged when it ends.
        var scanner = forced && constrained ? new NeutralCallScanner() : null;
        var text = new StringBuilder();
        var released = 0; // characters of text already sent as TextDelta
        var holding = forced;
        await foreach (var update in updates.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            switch (update)
            {
                case TextDelta delta when scanner is not null:
                    // A forced answer is all call: its tokens go out on an empty delta, its pieces as they complete.
                    text.Append(delta.Text);
                    yield return delta with { Text = "" };
                    foreach (var piece in scanner.Push(delta.Text))
                    {
                        yield return piece;
                    }

                    break;
                case TextDelta delta:
                    text.Append(delta.Text);
                    var until = holding ? released : Releasable(text, released, plan.Format, out holding);
                    yield return until == released ? delta with { Text = "" } : delta with { Text = text.ToString(released, until - released) };
                    released = until;
                    break;
                case Finished { Reason: FinishReason.Stop or FinishReason.Length } finished:
                    var whole = text.ToString();
                    var held = ToolCallParser.Parse(whole[released..], plan.Format);
                    IReadOnlyList<(string Name, string Arguments)>? calls = forced ? ToolCallSchema.Parse(whole) : held.Calls;
                    // A call that does not validate is never returned as a call (constrained, the grammar rules it out;
                    // unconstrained, the model may write one): the answer is text, reported invalid with the errors.
                    var errors = forced || calls is not { Count: > 0 } ? [] : AutoCallCheck.Errors(calls, plan);
                    if (calls is not { Count: > 0 } || errors.Count > 0 || (forced && finished.Structured is { Valid: false }))
                    {
                        // A forced call cut short (a stop string, the context's end) whose pieces already went out stays
                        // that partial call, as OpenAI streams a call cut by max_tokens: its text is not sent again as content.
                        var sentAsCall = scanner is { Calls.Count: > 0 };
                        if (released < whole.Length && !sentAsCall)
                        {
                            yield return new TextDelta(whole[released..], []);
                        }

                        // auto: an answer that began a call and ended without a readable one is a broken call, said so.
                        var broken = !forced && holding;
                        yield return forced ? finished : finished with
                        {
                            Structured = errors.Count > 0 ? Report(errors, finished.Structured, constrained)
                                : broken ? Report([AutoCallCheck.Unreadable(plan.Format)], finished.Structured, constrained)
                                : finished.Structured is { Repairs: > 0 } repaired ? repaired : null, // text, as the model chose: nothing to report
                        };
                        break;
                    }

                    // auto: what the model wrote around and after its calls is content too, sent before the calls.
                    if (!forced && held.Content.Length > 0)
                    {
                        yield return new TextDelta(held.Content, []);
                    }

                    if (scanner is not null && Streamed(scanner, calls) is { } streamed)
                    {
                        yield return finished with { ToolCalls = streamed };
                        break;
                    }

                    var made = calls.Select(c => new ToolCall(ToolCall.NewId(), c.Name, c.Arguments)).ToList();
                    for (var i = 0; i < made.Count; i++)
                    {
                        yield return new ToolCallDelta(i, made[i].Id, made[i].Name, "");
                        yield return new ToolCallDelta(i, null, null, made[i].Arguments);
                    }

                    yield return finished with { ToolCalls = made, Structured = forced ? finished.Structured : Report([], finished.Structured, constrained) };
                    break;
                default:
                    yield return update;
                    break;
            }
        }
    }

    /// <summary>The calls as the scanner streamed them, when they are exactly the parsed answer's (the grammar sees to that); else null.</summary>
    private static List<ToolCall>? Streamed(NeutralCallScanner scanner, IReadOnlyList<(string Name, string Arguments)> calls)
    {
        if (scanner.Calls.Count != calls.Count)
        {
            return scanner.Calls.Count == 0 ? null : throw new InvalidOperationException("the streamed tool calls differ from the answer's");
        }

        var streamed = new List<ToolCall>();
        for (var i = 0; i < calls.Count; i++)
        {
            var (id, name, arguments) = scanner.Calls[i];
            if (name != calls[i].Name || arguments.ToString() != calls[i].Arguments)
            {
                throw new InvalidOperationException("the streamed tool calls differ from the answer's");
            }

            streamed.Add(new ToolCall(id, name, calls[i].Arguments));
        }

        return streamed;
    }

    /// <summary>
    /// How much of the text can go out as text under auto: everything before the opening marker (or before a
    /// tail that could still become it); nothing of a Llama-3 answer that opens with <c>{</c> or the python tag.
    /// Sets <paramref name="holding"/> once a call has begun: the rest is held for the parser.
    /// </summary>
    internal static int Releasable(StringBuilder text, int released, ToolCallFormat format, out bool holding)
    {
        var s = text.ToString();
        holding = false;
        if (format == ToolCallFormat.Llama3Json)
        {
            var body = s.TrimStart();
            if (body.Length == 0 || (body.Length < ToolCallParser.PythonTag.Length && ToolCallParser.PythonTag.StartsWith(body, StringComparison.Ordinal)))
            {
                return released; // only whitespace so far, or what may become the python tag: wait for more
            }

            holding = body[0] == '{' || body.StartsWith(ToolCallParser.PythonTag, StringComparison.Ordinal);
            return holding ? released : s.Length;
        }

        var open = s.IndexOf(ToolCallParser.OpenTag, released, StringComparison.Ordinal);
        if (open >= 0)
        {
            holding = true;
            return open;
        }

        // Keep back a tail that is the start of the tag ("<tool" may still become "<tool_call>").
        for (var keep = Math.Min(ToolCallParser.OpenTag.Length - 1, s.Length - released); keep > 0; keep--)
        {
            if (s.AsSpan(s.Length - keep).SequenceEqual(ToolCallParser.OpenTag.AsSpan(0, keep)))
            {
                return s.Length - keep;
            }
        }

        return s.Length;
    }

    /// <summary>
    /// auto: how the calls went (whole responses were repaired first, and <paramref name="before"/> counts the repair
    /// turns; streams are only checked). Constrained, the trigger held each call to its grammar once it started.
    /// </summary>
    private static StructuredOutputReport Report(IReadOnlyList<Flywheel.Structured.JsonValidationError> errors, StructuredOutputReport? before, bool constrained) =>
        new(errors.Count == 0, before?.Repairs ?? 0, constrained, errors.Count == 0 ? null : [.. errors.Take(20).Select(e => e.ToString())]);
}
