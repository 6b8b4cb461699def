using System.Diagnostics;
using System.Numerics;
using System.Text;
using Flywheel.Structured;

namespace Flywheel.Benchmarks;

/// <summary>
/// One timed mask of a corpus walk and where its time went (<see cref="MaskProfile"/>); wall time,
/// and the thread's CPU time (<see cref="ThreadCpuClock"/>) for comparisons on a shared machine.
/// </summary>
internal readonly record struct MaskSample(
    string Schema, int Step, double Microseconds, bool Tight, int Configurations, int CacheMisses,
    int Uncertain, int Pending, double CacheMicroseconds, double ResolveMicroseconds, double BudgetMicroseconds,
    double TightTestMicroseconds, double CpuMicroseconds);

/// <summary>
/// The two token policies the grammar-corpus benchmark walks each schema with, on a cold cache (a
/// new grammar), timing every mask. <see cref="Policy.Random"/> is the stress measure: a uniformly
/// random allowed token of the whole vocabulary (end half the time it is allowed), so documents fill
/// long strings of rare tokens and most run into the budget's tight masks. <see cref="Policy.Frequent"/>
/// is closer to what a model writes: end as soon as allowed; one step in four a punctuation token (no
/// letter, digit or whitespace: quotes, commas, brackets), else the most frequent of 8 random allowed
/// tokens (Llama-3 ids follow BPE merge order, so the lowest id is the most common piece). Its
/// strings and arrays are short, as in answers, and few masks are tight. Neither is a real model's text.
/// </summary>
internal static class GrammarCorpusWalk
{
    public enum Policy
    {
        Random,
        Frequent,
    }

    /// <summary>A document the grammar allows, its masks' samples, and an FNV-1a hash over every mask's words (to compare builds).</summary>
    public static (string Text, List<MaskSample> Samples, ulong MaskHash) Generate(
        string schema, JsonSchemaGrammar grammar, TokenVocabulary vocab, int budget, Policy policy, Random rng)
    {
        var m = new GrammarMatcher(grammar, vocab, budget) { Profile = new MaskProfile() };
        var mask = new uint[m.MaskLength];
        var samples = new List<MaskSample>();
        var bytes = new List<byte>();
        var allowed = new List<int>();
        var hash = 14695981039346656037UL;
        var tick = 1e6 / Stopwatch.Frequency;
        while (!m.IsTerminated)
        {
            var cpu = ThreadCpuClock.NowMicroseconds();
            var start = Stopwatch.GetTimestamp();
            m.ComputeMask(mask);
            var us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            cpu = ThreadCpuClock.NowMicroseconds() - cpu;
            var p = m.Profile!;
            samples.Add(new MaskSample(schema, samples.Count, us, p.Tight, p.Configurations, p.CacheMisses, p.Uncertain,
                p.Pending, p.CacheTicks * tick, p.ResolveTicks * tick, p.BudgetTicks * tick, p.TightTestTicks * tick, cpu));
            allowed.Clear();
            for (var w = 0; w < mask.Length; w++)
            {
                hash = (hash ^ mask[w]) * 1099511628211UL;
                for (var bits = mask[w]; bits != 0; bits &= bits - 1)
                {
                    allowed.Add((w << 5) | BitOperations.TrailingZeroCount(bits));
                }
            }

            if (allowed.Count == 0)
            {
                break;
            }

            var token = policy == Policy.Random ? RandomToken(allowed, vocab, rng) : FrequentToken(allowed, vocab, rng);
            m.TryAccept(token);
            if (!vocab.IsEos(token))
            {
                bytes.AddRange(vocab.BytesOf(token).ToArray());
            }
        }

        return (Encoding.UTF8.GetString([.. bytes]), samples, hash);
    }

    private static int RandomToken(List<int> allowed, TokenVocabulary vocab, Random rng)
    {
        // Half the time prefer ending when the grammar allows it, so documents stay short.
        var eos = allowed.FirstOrDefault(vocab.IsEos, -1);
        return eos >= 0 && rng.Next(2) == 0 ? eos : allowed[rng.Next(allowed.Count)];
    }

    private static int FrequentToken(List<int> allowed, TokenVocabulary vocab, Random rng)
    {
        var eos = allowed.FirstOrDefault(vocab.IsEos, -1);
        if (eos >= 0)
        {
            return eos;
        }

        if (rng.Next(4) == 0)
        {
            var punctuation = allowed.Where(id => IsPunctuation(vocab.BytesOf(id))).ToList();
            if (punctuation.Count > 0)
            {
                return punctuation[rng.Next(punctuation.Count)];
            }
        }

        var best = int.MaxValue;
        for (var k = 0; k < 8; k++)
        {
            best = Math.Min(best, allowed[rng.Next(allowed.Count)]);
        }

        return best;
    }

    private static bool IsPunctuation(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b >= 0x80 || char.IsLetterOrDigit((char)b) || char.IsWhiteSpace((char)b))
            {
                return false;
            }
        }

        return !bytes.IsEmpty;
    }
}
