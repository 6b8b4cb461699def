using System.Diagnostics;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Tokenization;

namespace Flywheel.Execution;

/// <summary>Settings of one generation.</summary>
public sealed record GenerateParams
{
    public int MaxTokens { get; init; } = 64;

    /// <summary>How tokens are picked (greedy by default).</summary>
    public SamplingParams Sampling { get; init; } = new();

    /// <summary>Keep going past end-of-sequence tokens (benchmarks).</summary>
    public bool IgnoreEos { get; init; }
}

/// <summary>What one generation produced, with its timings.</summary>
public sealed record GenerateResult(string Text, IReadOnlyList<int> TokenIds, IReadOnlyList<SampledToken> Tokens, int PromptTokenCount, string FinishReason, double PrefillSeconds, double DecodeSeconds)
{
    /// <summary>Decode speed: tokens after the first, per second of decode time.</summary>
    public double DecodeTokensPerSecond => TokenIds.Count > 1 && DecodeSeconds > 0 ? (TokenIds.Count - 1) / DecodeSeconds : 0;
}

/// <summary>
/// Single-request generation: the prompt runs in chunks on one KV slot, then one token per step.
/// The simplest complete path from text to text over a model folder; the batching engine serves many.
/// </summary>
public sealed class TextGenerator : IDisposable
{
    private readonly ModelFolder _model;
    private readonly Tokenizer _tokenizer;
    private readonly KvCache _cache;
    private readonly DecoderRunner _runner;
    private readonly HashSet<int> _eos;
    private readonly int _chunkSize;

    public TextGenerator(ModelFolder model, Tokenizer tokenizer, int chunkSize = 256)
    {
        _model = model;
        _tokenizer = tokenizer;
        var c = model.Config;
        _chunkSize = Math.Min(chunkSize, c.ContextLength);
        _cache = new KvCache(c.Decoder.NumHiddenLayers, 1, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize);
        _runner = new DecoderRunner(model.Session, c, _cache, _chunkSize);
        _eos = [.. c.EosTokenIds, .. tokenizer.EosTokenIds];
    }

    /// <summary>Prompt token ids (see <see cref="Tokenizer.EncodePrompt"/>).</summary>
    public int[] EncodePrompt(string prompt) => _tokenizer.EncodePrompt(prompt);

    /// <summary>
    /// Generates from <paramref name="promptIds"/>. <paramref name="onToken"/> receives each token with the text it
    /// completed (possibly empty) and returns false to stop there (finish reason "stop"); after the last token
    /// it may receive held-back text with a token id of -1. Cancellation ends the generation with finish reason "abort".
    /// </summary>
    public GenerateResult Generate(IReadOnlyList<int> promptIds, GenerateParams p, Func<SampledToken, string, bool>? onToken = null, CancellationToken cancellationToken = default)
    {
        var context = _model.Config.ContextLength;
        if (promptIds.Count == 0 || promptIds.Count >= context)
        {
            throw new ArgumentException($"the prompt has {promptIds.Count} tokens; it must have between 1 and {context - 1} (the model's context length is {context})");
        }

        var sampler = new TokenSampler(_runner.VocabSize, p.Sampling, promptIds);
        var sampled = new List<SampledToken>();
        var decoder = _tokenizer.CreateStreamDecoder();
        var text = new System.Text.StringBuilder();
        var generated = new List<int>();
        var tokens = new long[_chunkSize];
        int[] past = [0], valid = [0];
        var clock = Stopwatch.StartNew();

        // Prefill: the prompt in chunks (batch 1, so each chunk may sit on top of the previous ones).
        ReadOnlySpan<float> last = default;
        for (var start = 0; start < promptIds.Count; start += _chunkSize)
        {
            var length = Math.Min(_chunkSize, promptIds.Count - start);
            for (var i = 0; i < length; i++)
            {
                tokens[i] = promptIds[start + i];
            }

            (past[0], valid[0]) = (start, length);
            var logits = _runner.Run(0, 1, length, tokens.AsSpan(0, length), past, valid);
            last = logits.Slice((length - 1) * _runner.VocabSize, _runner.VocabSize);
        }

        var prefillSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var position = promptIds.Count;
        var maxTokens = Math.Min(p.MaxTokens, context - promptIds.Count);
        var finish = "length";
        while (generated.Count < maxTokens)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                finish = "abort";
                break;
            }

            var token = sampler.Sample(last);
            var next = token.Id;
            generated.Add(next);
            sampled.Add(token);
            if (!p.IgnoreEos && _eos.Contains(next))
            {
                finish = "stop";
                break;
            }

            var piece = decoder.Append(next);
            text.Append(piece);
            if (onToken is not null && !onToken(token, piece))
            {
                finish = "stop";
                break;
            }

            if (generated.Count == maxTokens)
            {
                break;
            }

            tokens[0] = next;
            (past[0], valid[0]) = (position, 1);
            last = _runner.Run(0, 1, 1, tokens.AsSpan(0, 1), past, valid);
            position++;
        }

        var tail = decoder.Flush();
        text.Append(tail);
        if (tail.Length > 0 && finish != "stop")
        {
            onToken?.Invoke(new SampledToken(-1, 0, null), tail);
        }

        return new GenerateResult(text.ToString(), generated, sampled, promptIds.Count, finish, prefillSeconds, clock.Elapsed.TotalSeconds);
    }

    public void Dispose()
    {
        _runner.Dispose();
        _cache.Dispose();
    }
}
