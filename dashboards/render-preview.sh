#!/usr/bin/env bash
# Renders docs/images/dashboard.png: the Grafana dashboard's own PromQL over real data, from a real
# Prometheus scraping a live Flywheel server under load. Grafana itself is not used: the panels are drawn by
# dashboards/render-preview.mjs (inline SVG, laid out by the dashboard's gridPos) and screenshotted with
# headless Chromium.
#
#   dashboards/render-preview.sh [--out docs/images/dashboard.png] [--duration 60]
#
# Needs: dotnet (./flywheel builds the CLI), prometheus, node 18+, chromium; pngquant if present.
# Everything listens on 127.0.0.1 only and is stopped on exit. Takes about duration + 20 s once the CLI is built.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/docs/images/dashboard.png
duration=60
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "usage: $0 [--out FILE.png] [--duration SECONDS]" >&2; exit 2 ;;
  esac
done
for tool in prometheus node chromium curl; do
  command -v "$tool" >/dev/null || { echo "render-preview: $tool not found (Debian: apt-get install -y ${tool/node/nodejs})" >&2; exit 1; }
done

work=$(mktemp -d -t flywheel-preview.XXXXXX)
pids=()
cleanup() {
  # Children first (the burst's subshell holds a sleep and a timeout), then the processes themselves.
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { echo "render-preview: $*" >&2; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_for() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  until curl -sf -o /dev/null "$1"; do
    [ $SECONDS -lt $deadline ] || { log "timed out waiting for $1"; return 1; }
    sleep 0.3
  done
}

cd "$root"
# A small dummy-weight model (./flywheel builds the CLI first when sources changed): fast enough on a laptop CPU, with a 1024-token context for the mixes.
./flywheel make-model --preset tiny --layers 4 --hidden 128 --context 1024 --out "$work/model" >&2
server_port=$(free_port)
# A short queue, so the burst below gets 429s and the rejected-requests panel has something to show.
./flywheel serve --model "$work/model" --host 127.0.0.1 --port "$server_port" --max-running 4 --queue 8 >"$work/serve.log" 2>&1 &
pids+=($!)
server=http://127.0.0.1:$server_port
wait_for "$server/health/ready" 120 || { cat "$work/serve.log" >&2; exit 1; }

prom_port=$(free_port)
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: flywheel
    static_configs:
      - targets: ["127.0.0.1:$server_port"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
prom=http://127.0.0.1:$prom_port
wait_for "$prom/-/ready" 60 || { cat "$work/prometheus.log" >&2; exit 1; }

# Whole-response structured requests: grammar-constrained, validated, repaired when invalid.
cat >"$work/structured.json" <<'EOF'
{ "name": "structured (whole responses)", "endpoint": "chat", "stream": false,
  "promptTokens": { "kind": "uniform", "min": 32, "max": 160 },
  "outputTokens": { "kind": "uniform", "min": 24, "max": 64 },
  "structuredShare": 1.0 }
EOF

sleep 5 # a few idle scrapes before the load starts
start=$(date +%s)
common=(--url "$server" --tokenizer "$work/model/tokenizer.json" --no-progress --request-timeout 20)
limit=$((duration + 40))
log "load for ${duration}s: balanced (4 users), structured (1 user), a burst at 40 req/s halfway"
timeout "$limit" ./flywheel loadgen "${common[@]}" --mix balanced --max-context 1024 --concurrency 4 --duration "$duration" --out "$work/lg-balanced" >"$work/lg-balanced.log" 2>&1 &
load=($!)
timeout "$limit" ./flywheel loadgen "${common[@]}" --scenario "$work/structured.json" --concurrency 1 --duration "$duration" --out "$work/lg-structured" >"$work/lg-structured.log" 2>&1 &
load+=($!)
(sleep $((duration / 2)) && timeout "$limit" ./flywheel loadgen "${common[@]}" --mix balanced --max-context 1024 --rate 40 --duration 4 --seed 7 --out "$work/lg-burst" >"$work/lg-burst.log" 2>&1) &
load+=($!)
pids+=("${load[@]}")
for pid in "${load[@]}"; do wait "$pid" || log "a loadgen run exited with $?"; done
pids=("${pids[@]:0:2}") # the load is over: only the server and Prometheus are left to stop
sleep 8 # let the last requests' samples be scraped and the 1m rates ease off
end=$(date +%s)
for f in "$work"/lg-*.log; do # each run's outcome, errors by kind
  log "$(basename "$f" .log): $(grep -h -E '^\| (requests ok|http_|timeout|error_)' "$f" | tr -d '|' | tr -s ' ' | paste -sd ';' -)"
done

html=$work/dashboard.html
height=$(node dashboards/render-preview.mjs --prometheus "$prom" --start "$((start - 5))" --end "$end" --step 1 \
  --dashboard dashboards/flywheel-dashboard.json --out "$html" \
  --subtitle "Tiny dummy-weight model on CPU; loadgen balanced x4 users + structured x1 + a 40 req/s burst;")

mkdir -p "$(dirname "$out")"
png=$work/dashboard.png
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$work/chromium" \
  --window-size=1600,"$height" --screenshot="$png" "file://$html" >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
if command -v pngquant >/dev/null; then
  pngquant --force --quality 70-95 --speed 1 --output "$out" "$png"
else
  cp "$png" "$out"
fi
log "wrote $out ($(($(stat -c %s "$out") / 1024)) KB, 1600x$height), window $(date -u -d @"$start" +%T)-$(date -u -d @"$end" +%T) UTC"
