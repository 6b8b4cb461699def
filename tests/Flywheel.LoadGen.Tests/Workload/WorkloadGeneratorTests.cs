using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Tests.Workload;

public sealed class WorkloadGeneratorTests
{
    /// <summary>A counter unlike the approximate one: every 3 characters, spaces included, make a token.</summary>
    private sealed class ThreeCharCounter : ITokenCounter
    {
        public int Count(string text) => (text.Length + 2) / 3;
    }

    private static Scenario Fixed(int prompt, int output, double structured = 0) => new()
    {
        Name = "t",
        PromptTokens = new FixedLength(prompt),
        OutputTokens = new FixedLength(output),
        StructuredShare = structured,
    };

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(1500)]
    public void Prompts_have_the_planned_length_by_the_given_counter(int tokens)
    {
        var counter = new ThreeCharCounter();
        var generator = new WorkloadGenerator(Fixed(tokens, 8), seed: 1, counter);
        for (var i = 0; i < 5; i++)
        {
            var plan = generator.Create(i);
            Assert.Equal(tokens, counter.Count(plan.Prompt));
            Assert.Equal(tokens, plan.PromptTokenCount);
        }
    }

    [Fact]
    public void Without_a_counter_prompts_are_that_many_common_words()
    {
        var plan = new WorkloadGenerator(Fixed(300, 8), seed: 1).Create(0);
        Assert.Equal(300, plan.Prompt.Split(' ').Length);
        Assert.Equal(300, plan.PromptTokenCount);
    }

    [Fact]
    public void Requests_are_reproducible_per_index_and_differ_between_indices()
    {
        var scenario = BuiltInMixes.TryGet("balanced", 2048, out var s) ? s : throw new InvalidOperationException();
        var a = new WorkloadGenerator(scenario, seed: 5);
        var b = new WorkloadGenerator(scenario, seed: 5);
        Assert.Equal(a.Create(17), b.Create(17));
        Assert.NotEqual(a.Create(17).Prompt, a.Create(18).Prompt);
        Assert.NotEqual(a.Create(17).Prompt, new WorkloadGenerator(scenario, seed: 6).Create(17).Prompt);
    }

    [Fact]
    public void Context_clipping_keeps_prompt_plus_output_inside()
    {
        var generator = new WorkloadGenerator(Fixed(900, 900), seed: 1, maxContextTokens: 1024);
        var plan = generator.Create(0);
        Assert.Equal(900, plan.PromptTokenCount);
        Assert.Equal(1024 - WorkloadGenerator.TemplateReserve(1024) - 900, plan.MaxTokens);
    }

    [Fact]
    public void Structured_share_sets_a_schema_on_about_that_share()
    {
        var generator = new WorkloadGenerator(Fixed(64, 16, structured: 0.3), seed: 2);
        var structured = Enumerable.Range(0, 1000).Count(i => generator.Create(i).IsStructured);
        Assert.InRange(structured, 250, 350);
        var plan = Enumerable.Range(0, 50).Select(generator.Create).First(p => p.IsStructured);
        Assert.Equal(BuiltInMixes.DefaultSchemaJson, plan.SchemaJson);
        Assert.StartsWith("Reply with only a JSON object", plan.Prompt);
        Assert.Equal(64, plan.PromptTokenCount);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(200)]
    public void Structured_requests_get_room_for_the_schema_within_the_context(int? context)
    {
        var generator = new WorkloadGenerator(Fixed(40, 24, structured: 1), seed: 2, maxContextTokens: context);
        var plan = generator.Create(0);
        Assert.True(plan.IsStructured);
        var expected = context is { } c ? c - WorkloadGenerator.TemplateReserve(c) - 40 : WorkloadGenerator.StructuredMaxTokens;
        Assert.Equal(expected, plan.MaxTokens);
        Assert.Equal(24, new WorkloadGenerator(Fixed(40, 24), seed: 2, maxContextTokens: context).Create(0).MaxTokens);
    }
}
