using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Server.OpenAi;
using Flywheel.Templates;
using Flywheel.Tokenization;

namespace Flywheel.Server.Hosting;

/// <summary>
/// Serves a model folder one request at a time on a dedicated thread (the <c>sequential</c> policy): requests
/// wait in a bounded queue (full => 429) and run to completion in order. Supports every sampling option
/// of the API (temperature, top_k, top_p, min_p, penalties, seed, logprobs), max_tokens, stop and ignore_eos;
/// refuses response_format other than text (400) until structured output lands, rather than ignoring it.
/// </summary>
public sealed class SequentialBackend : IGenerationBackend, IDisposable
{
    private readonly ModelFolder _model;
    private readonly Tokenizer _tokenizer;
    private readonly TextGenerator _generator;
    private readonly ChatTemplate _template;
    private readonly Channel<Job> _queue;
    private readonly Thread _worker;

    public SequentialBackend(ModelFolder model, Tokenizer tokenizer, int queueCapacity = 64)
    {
        _model = model;
        _tokenizer = tokenizer;
        _generator = new TextGenerator(model, tokenizer);
        _template = tokenizer.ChatTemplate is { } source ? ChatTemplate.Parse(source) : ChatTemplate.Fallback;
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _worker = new Thread(Work) { IsBackground = true, Name = "flywheel-generator" };
        _worker.Start();
    }

    public string ModelId => _model.Name;

    public int ContextLength => _model.Config.ContextLength;

    public string Description =>
        $"{_model.Config.ModelType}, {_model.Config.Decoder.NumHiddenLayers} layers, hidden {_model.Config.Decoder.HiddenSize}, vocab {_model.Config.VocabSize}, " +
        $"context {ContextLength}, ONNX Runtime CPU, sequential scheduling";

    public bool IsReady => true;

    public PreparedPrompt Prepare(ApiRequest request)
    {
        RefuseUnsupported(request);
        int[] ids;
        if (request.IsChat)
        {
            var text = PromptText.Render(request, _template, _tokenizer.BosToken, _tokenizer.EosToken);
            ids = _tokenizer.Encode(text);
        }
        else
        {
            ids = _generator.EncodePrompt(request.Prompt ?? "");
        }

        if (ids.Length == 0)
        {
            throw OpenAiError.BadRequest("The prompt is empty.", request.IsChat ? "messages" : "prompt");
        }

        return new PreparedPrompt(ids.Length, PromptLimits.ResolveMaxTokens(ids.Length, request, ContextLength), ids);
    }

    public SubmitResult TrySubmit(PreparedPrompt prompt, ApiRequest request, CancellationToken cancellationToken)
    {
        var output = Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true });
        var job = new Job((int[])prompt.State!, prompt.MaxNewTokens, request, output.Writer, cancellationToken);
        return _queue.Writer.TryWrite(job) ? SubmitResult.Accepted(Read(output.Reader, cancellationToken)) : SubmitResult.QueueFull(retryAfterSeconds: 1);
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _worker.Join(TimeSpan.FromSeconds(30));
        _generator.Dispose();
    }

    private static async IAsyncEnumerable<GenerationUpdate> Read(ChannelReader<GenerationUpdate> reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var update in reader.ReadAllAsync(cancellationToken))
        {
            yield return update;
        }
    }

    private static void RefuseUnsupported(ApiRequest r)
    {
        static void Refuse(bool asked, string param) =>
            _ = asked ? throw OpenAiError.BadRequest($"'{param}' is not supported by the sequential engine yet.", param) : 0;

        Refuse(r.ResponseFormat.Kind != ResponseFormatKind.Text, "response_format");
    }

    private void Work()
    {
        while (_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (_queue.Reader.TryRead(out var job))
            {
                Run(job);
            }
        }
    }

    private void Run(Job job)
    {
        if (job.Cancellation.IsCancellationRequested)
        {
            job.Output.TryComplete();
            return;
        }

        var request = job.Request;
        var filter = new StopStringFilter(request.Stop);
        var count = 0;
        try
        {
            var result = _generator.Generate(
                job.PromptIds,
                new GenerateParams
                {
                    MaxTokens = job.MaxNewTokens,
                    IgnoreEos = request.IgnoreEos,
                    Sampling = new SamplingParams
                    {
                        Temperature = request.Temperature,
                        TopK = request.TopK,
                        TopP = request.TopP,
                        MinP = request.MinP,
                        PresencePenalty = request.PresencePenalty,
                        FrequencyPenalty = request.FrequencyPenalty,
                        RepetitionPenalty = request.RepetitionPenalty,
                        Seed = request.Seed,
                        TopLogprobs = request.TopLogprobs,
                    },
                },
                (token, text) =>
                {
                    var released = filter.Push(text);
                    if (token.Id >= 0)
                    {
                        count++;
                    }

                    var tokens = token.Id >= 0 ? new[] { ToGenerated(token, request.TopLogprobs is not null) } : [];
                    if (released.Length > 0 || tokens.Length > 0)
                    {
                        job.Output.TryWrite(new TextDelta(released, tokens));
                    }

                    return !filter.Stopped;
                },
                job.Cancellation);
            var rest = filter.Flush();
            if (rest.Length > 0)
            {
                job.Output.TryWrite(new TextDelta(rest, []));
            }

            var reason = result.FinishReason switch
            {
                "stop" => FinishReason.Stop,
                "abort" => FinishReason.Abort,
                _ => FinishReason.Length,
            };
            job.Output.TryWrite(new Finished(reason, job.PromptIds.Length, result.TokenIds.Count));
        }
        catch (Exception e)
        {
            // One failed request must not take the worker down.
            job.Output.TryWrite(new Finished(FinishReason.Error, job.PromptIds.Length, count, "generation failed: " + e.Message));
        }
        finally
        {
            job.Output.TryComplete();
        }
    }

    private GeneratedToken ToGenerated(SampledToken token, bool withLogprobs) =>
        withLogprobs
            ? new GeneratedToken(token.Id, _tokenizer.Decode([token.Id]), token.Logprob,
                token.TopLogprobs!.Select(t => new TokenCandidate(t.Id, _tokenizer.Decode([t.Id]), t.Logprob)).ToList())
            : new GeneratedToken(token.Id, _tokenizer.Decode([token.Id]));

    private sealed record Job(int[] PromptIds, int MaxNewTokens, ApiRequest Request, ChannelWriter<GenerationUpdate> Output, CancellationToken Cancellation);
}
