using System.Net.Http.Json;
using System.Text.Json;
using Flywheel.LoadGen.Workload;
using Flywheel.Models;
using Flywheel.Scheduling;
using Flywheel.Server;
using Flywheel.Server.Hosting;
using Flywheel.Serving.Backend;
using Flywheel.Tokenization;
using Microsoft.Extensions.Logging;

namespace Flywheel.Cli.Tests;

/// <summary>The built-in demo model of <c>flywheel serve</c> takes the README's loadgen command as it stands.</summary>
public sealed class DemoModelTests
{
    /// <summary>
    /// Each built-in mix, as <c>loadgen --mix NAME</c> sizes it without --max-context or --tokenizer, at its
    /// longest prompt and longest output, sent to a real server over the demo model: no 400
    /// context_length_exceeded (the demo tokenizer, chat template and approximate prompt counts included).
    /// </summary>
    [Fact]
    public async Task The_longest_request_of_every_built_in_mix_fits_the_demo_model()
    {
        string dir;
        lock (typeof(DemoModelTests))
        {
            dir = ServeCommand.DemoModel(TextWriter.Null);
        }

        using var model = ModelFolder.Open(dir);
        using var backend = new EngineBackend(model, Tokenizer.Load(model.TokenizerPath), new EngineOptions { MaxRunningRequests = 4 });
        await using var app = FlywheelServer.Build(new ServerOptions { Port = 0, Output = TextWriter.Null, ConfigureLogging = l => l.ClearProviders() }, backend);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = FlywheelServer.ListeningUris(app).Single(), Timeout = TimeSpan.FromMinutes(2) };

        var models = await http.GetFromJsonAsync<JsonElement>("/v1/models");
        var modelId = models.GetProperty("data")[0].GetProperty("id").GetString();
        Assert.Equal(model.Config.ContextLength, models.GetProperty("data")[0].GetProperty("max_model_len").GetInt32());

        var failures = new List<string>();
        foreach (var mix in BuiltInMixes.Names)
        {
            Assert.True(BuiltInMixes.TryGet(mix, BuiltInMixes.ReferenceContextTokens, out var scenario));
            var longest = scenario with
            {
                PromptTokens = new FixedLength(scenario.PromptTokens.Max),
                OutputTokens = new FixedLength(scenario.OutputTokens.Max),
                StructuredShare = scenario.StructuredShare > 0 ? 1 : 0,
            };
            var plan = new WorkloadGenerator(longest, seed: 1, counter: null, BuiltInMixes.ReferenceContextTokens).Create(0);
            using var response = await http.PostAsJsonAsync("/v1/chat/completions", new
            {
                model = modelId,
                messages = new[] { new { role = "user", content = plan.Prompt } },
                max_tokens = plan.MaxTokens,
                // Only the admission check matters here: it weighs max_tokens, not what is generated.
                stop = new[] { " " },
            });
            if (!response.IsSuccessStatusCode)
            {
                failures.Add($"{mix} (prompt {plan.PromptTokenCount}, output {plan.MaxTokens}): {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
