namespace Flywheel.LoadGen.Cli;

/// <summary>The help text of <c>flywheel loadgen</c>.</summary>
internal static class Usage
{
    public const string Text = """
        usage: flywheel loadgen --url URL [--model NAME | --models A,B[:W],...] (--mix NAME | --scenario FILE)
                                [--rate R [--arrival poisson|constant|gamma] [--burstiness B] [--max-concurrency N]
                                 | --concurrency N | --sweep]
                                [--duration S] [--requests N] [--warmup S] [--seed N]
                                [--slo-ttft S] [--slo-itl S] [--tokenizer FILE] [--out DIR] [--no-progress]

        Load-tests any OpenAI-compatible server (Flywheel, vLLM, ...) and writes summary.json,
        requests.csv, report.md and SVG plots to --out.

        server and workload
          --url URL               server root, e.g. http://127.0.0.1:8000 (a trailing /v1 is fine)
          --model NAME            model to request (default: first of GET /v1/models)
          --models A,B,C          spread requests over several models, e.g. LoRA adapters of one base: uniform,
                                  or weighted as A:6,B:3,C:1; the report gives each model's numbers too
          --mix NAME              prompt-heavy | balanced | generation-heavy | structured
          --scenario FILE         JSON scenario (lengths, endpoint, streaming, structured share; see loadgen/README.md)
          --max-context N         scale mixes to, and clip requests into, an N-token context (mixes default to 2048)
          --clip-to-context       when the model's max_model_len (from /v1/models) is too small for the workload,
                                  clip every request to it with a warning (default: refuse to run)
          --endpoint chat|completions   override the workload's endpoint
          --no-ignore-eos         do not send ignore_eos (for servers that reject unknown fields)
          --tokenizer FILE        tokenizer for exact prompt lengths (default: about one token per word)
          --seed N                seed of prompts, lengths and arrivals (default 0)

        load (choose one; default --concurrency 4)
          --rate R                open loop at R requests/s ("inf": all at once, needs --requests)
          --arrival KIND          poisson (default), constant, or gamma
          --burstiness B          gamma shape (implies --arrival gamma; <1 burstier, >1 smoother)
          --max-concurrency N     cap on requests in flight in open loop
          --concurrency N         closed loop: N users, each sends when its last request ends
          --sweep                 probe max throughput (closed loop), then open-loop steps at fractions of it
          --sweep-fractions LIST  comma-separated fractions (default 0.25,0.5,0.75,0.9,1)
          --sweep-probe-concurrency N   users of the probe (default 32)

        bounds (per sweep step)
          --duration S            seconds of measured load (default 60 if --requests is not given)
          --requests N            measured requests to send
          --warmup S              seconds of load before measuring (default 0)
          --request-timeout S     cut a request after S seconds (default 300)

        goodput
          --slo-ttft S            time-to-first-token objective
          --slo-itl S             inter-token objective, per request's mean gap (TPOT)
          --slo-attainment F      share of requests that must meet them (default 0.9)

        output
          --out DIR               report folder (default loadgen-results/<time>)
          --no-progress           no live display (also off when stdout is redirected)

        Durations take plain seconds or a unit: 0.5, 500ms, 2s, 1m.
        Exit codes: 0 ok, 1 server unreachable or more than 1% of measured requests failed (the top errors are
        printed), 2 bad arguments or a workload that does not fit the model's context, 130 interrupted.
        """;
}
