using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Tests.Workload;

public sealed class ModelMixTests
{
    private static ModelMix Parse(string text)
    {
        Assert.True(ModelMix.TryParse(text, out var mix, out var error), error);
        return mix!;
    }

    [Fact]
    public void Weights_default_to_one_and_a_colon_without_a_number_stays_in_the_name()
    {
        var mix = Parse("base, org/adapter:v2 ,sql:2.5");
        Assert.Equal(["base", "org/adapter:v2", "sql"], mix.Names);
        Assert.Equal([1.0, 1.0, 2.5], mix.Weights);
        Assert.Equal(2.5 / 4.5, mix.Share(2), 12);
    }

    [Theory]
    [InlineData("a,b,c")]
    [InlineData("a:6,b:3,c:1")]
    public void Requests_spread_over_the_models_in_proportion_to_their_weights(string text)
    {
        var mix = Parse(text);
        const int n = 20_000;
        var counts = new int[mix.Names.Count];
        for (var i = 0; i < n; i++)
        {
            counts[mix.Names.ToList().IndexOf(mix.Pick(seed: 5, i))]++;
        }
        for (var k = 0; k < counts.Length; k++)
        {
            // Binomial standard deviation at n = 20,000 is under 0.0036 of n; 0.015 is over four of them.
            Assert.InRange((double)counts[k] / n, mix.Share(k) - 0.015, mix.Share(k) + 0.015);
        }
    }

    [Fact]
    public void A_request_keeps_its_model_and_its_content_whatever_else_is_drawn()
    {
        var scenario = new Scenario { Name = "t", PromptTokens = new UniformLength(4, 40), OutputTokens = new UniformLength(1, 9) };
        var single = new WorkloadGenerator(scenario, seed: 3);
        var spread = new WorkloadGenerator(scenario, seed: 3, models: Parse("a,b"));
        for (var i = 0; i < 50; i++)
        {
            var plan = spread.Create(i);
            // The model comes from a stream of its own: prompts and lengths are those of a one-model run.
            Assert.Equal(single.Create(i) with { Model = plan.Model }, plan);
            Assert.Equal(plan.Model, spread.Create(i).Model);
            Assert.Contains(plan.Model, new[] { "a", "b" });
        }
        Assert.Null(single.Create(0).Model);
    }
}
