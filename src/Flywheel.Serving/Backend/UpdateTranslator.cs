using System.Runtime.CompilerServices;
using Flywheel.Execution;
using Flywheel.Sampling;
using Flywheel.Tokenization;

namespace Flywheel.Serving.Backend;

/// <summary>
/// Engine events to updates: token ids through the stream decoder (text only once its UTF-8 is whole) and
/// the stop-string filter; each token also decoded on its own for logprobs. One reader per attempt.
/// </summary>
internal sealed class UpdateTranslator(Tokenizer tokenizer)
{
    /// <summary>Reads <paramref name="attempt"/>'s events to the finish; releases the attempt however the reader leaves.</summary>
    public async IAsyncEnumerable<GenerationUpdate> Translate(Attempt attempt, ApiRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Metrics are not recorded here: the engine reports every request it finishes (see EngineBackend's
        // constructor), including those whose reader left early.
        var (outcome, abort, stop, promptTokens, adapter) = attempt;
        var started = false;
        try
        {
            var decoder = tokenizer.CreateStreamDecoder();
            var filter = new StopStringFilter(request.Stop);
            var withLogprobs = request.TopLogprobs is not null;
            var completion = 0;
            await foreach (var e in outcome.Events!.ReadAllAsync(cancellationToken))
            {
                if (e is TokenEvent t)
                {
                    if (!started && adapter is not null)
                    {
                        adapter.GenerationStarted();
                    }

                    started = true;
                    completion++;
                    var text = t.IsStopToken ? "" : filter.Push(decoder.Append(t.Token.Id));
                    yield return new TextDelta(text, [ToGenerated(t.Token, withLogprobs)]);
                    if (filter.Stopped)
                    {
                        // The engine ends the request as Stop on its next step; its finish event is not read.
                        stop.Cancel();
                        yield return new Finished(FinishReason.Stop, promptTokens, completion);
                        yield break;
                    }

                    continue;
                }

                var finish = (FinishEvent)e;
                var rest = filter.Push(decoder.Flush()) + filter.Flush();
                if (rest.Length > 0)
                {
                    yield return new TextDelta(rest, []);
                }

                yield return new Finished(
                    finish.Reason,
                    finish.PromptTokenCount,
                    finish.CompletionTokenCount,
                    finish.Error);
            }
        }
        finally
        {
            // However the reader leaves (finished, cancelled, or a write to a vanished client failed before
            // the server noticed the disconnect), the engine request must not outlive it: cancel, then
            // release. Cancelling a finished request is a no-op.
            abort.Cancel();
            abort.Dispose();
            stop.Dispose();
            adapter?.GenerationEnded(started);
        }
    }

    private GeneratedToken ToGenerated(SampledToken token, bool withLogprobs) =>
        withLogprobs
            ? new GeneratedToken(token.Id, tokenizer.Decode([token.Id]), token.Logprob,
                token.TopLogprobs!.Select(t => new TokenCandidate(t.Id, tokenizer.Decode([t.Id]), t.Logprob)).ToList())
            : new GeneratedToken(token.Id, tokenizer.Decode([token.Id]));
}
