namespace Flywheel.Templates;

/// <summary>Limits that stop runaway templates; all are per ChatTemplate.Render call.</summary>
internal sealed record TemplateLimits
{
    public static readonly TemplateLimits Default = new();

    /// <summary>Characters the template may write in total, captured output (macros, block set) included.</summary>
    public long MaxOutputChars { get; init; } = 16 * 1024 * 1024;

    /// <summary>Nested macro calls (recursive macros are allowed up to this depth).</summary>
    public int MaxCallDepth { get; init; } = 64;

    /// <summary>For-loop iterations across the whole render.</summary>
    public long MaxLoopIterations { get; init; } = 1_000_000;
}

/// <summary>Mutable state of one render: budgets, the clock for strftime_now, and source for locations.</summary>
internal sealed class RenderState(SourceText source, TemplateLimits limits, TimeProvider time)
{
    private long _outputCharsLeft = limits.MaxOutputChars;
    private long _iterationsLeft = limits.MaxLoopIterations;

    public SourceText Source { get; } = source;

    public TemplateLimits Limits { get; } = limits;

    public TimeProvider Time { get; } = time;

    public int CallDepth { get; set; }

    /// <summary>Counts characters about to be written or built; throws when the output budget is spent.</summary>
    public void ChargeOutput(long chars)
    {
        _outputCharsLeft -= chars;
        if (_outputCharsLeft < 0)
        {
            throw new TemplateException($"template output exceeds the limit of {Limits.MaxOutputChars} characters");
        }
    }

    /// <summary>Checks that a string about to be built stays within the output limit (e.g. "x" * n).</summary>
    public void CheckSize(long chars)
    {
        if (chars > Limits.MaxOutputChars)
        {
            throw new TemplateException($"value of {chars} characters/items exceeds the limit of {Limits.MaxOutputChars}");
        }
    }

    public void CountIteration()
    {
        if (--_iterationsLeft < 0)
        {
            throw new TemplateException($"template ran more than {Limits.MaxLoopIterations} loop iterations");
        }
    }
}
