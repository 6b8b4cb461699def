using Flywheel.Serving.Adapters;
using Prometheus;

namespace Flywheel.Serving.Metrics;

/// <summary>
/// LoRA adapter gauges, read from an <see cref="AdapterRegistry"/> before each scrape:
/// <c>flywheel_lora_adapters_resident</c> and <c>flywheel_lora_adapters_max</c> (--max-loras), and per loaded
/// adapter <c>flywheel_lora_requests_running</c> and <c>flywheel_lora_requests_waiting</c> with a
/// <c>lora_name</c> label. A label's series exists from the first scrape after its adapter is loaded (so
/// adapters loaded at startup are there from the start, at zero) and is removed at the first scrape after its
/// unload: at most --max-loras names per gauge at any time. The base model's requests are the
/// engine-wide <c>flywheel_num_requests_*</c> minus these. See docs/decisions/lora-adapters.md, "Serving".
/// </summary>
public static class AdapterMetrics
{
    /// <summary>Declares the gauges in <paramref name="registry"/> (every series has the <c>model</c> label).</summary>
    public static void Register(CollectorRegistry registry, string modelName, AdapterRegistry adapters)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(adapters);
        var factory = Prometheus.Metrics.WithCustomRegistry(registry).WithLabels(new Dictionary<string, string> { ["model"] = modelName });
        var resident = factory.CreateGauge("flywheel_lora_adapters_resident", "LoRA adapters loaded in engine slots.");
        var max = factory.CreateGauge("flywheel_lora_adapters_max", "LoRA adapter slots (--max-loras).");
        var running = factory.CreateGauge("flywheel_lora_requests_running", "Requests on a LoRA adapter that are generating (have produced a token).", ["lora_name"]);
        var waiting = factory.CreateGauge("flywheel_lora_requests_waiting", "Requests on a LoRA adapter waiting for their first token (queued or in prefill).", ["lora_name"]);
        max.Set(adapters.MaxCount);
        var published = new HashSet<string>(StringComparer.Ordinal);
        var gate = new Lock();
        registry.AddBeforeCollectCallback(() =>
        {
            var loaded = adapters.Loaded;
            lock (gate) // scrapes may overlap; the set of published names must stay consistent
            {
                resident.Set(loaded.Count);
                foreach (var gone in published.Where(name => !loaded.Any(a => a.Name == name)).ToList())
                {
                    running.RemoveLabelled(gone);
                    waiting.RemoveLabelled(gone);
                    published.Remove(gone);
                }

                foreach (var adapter in loaded)
                {
                    running.WithLabels(adapter.Name).Set(adapter.RunningCount);
                    waiting.WithLabels(adapter.Name).Set(adapter.WaitingCount);
                    published.Add(adapter.Name);
                }
            }
        });
    }
}
