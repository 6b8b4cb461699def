// Renders dashboards/flywheel-dashboard.json as a static HTML page from a live Prometheus: every panel's
// PromQL targets go through /api/v1/query_range over a time window, and each panel becomes an inline SVG
// line chart placed by its gridPos. Not Grafana: a stand-in so the dashboard's own queries can be seen
// over real data where no Grafana runs. Node 18+, no dependencies.
//
//   node dashboards/render-preview.mjs --prometheus http://127.0.0.1:9090 --start UNIX --end UNIX
//        [--step 2] [--dashboard dashboards/flywheel-dashboard.json] [--out preview.html] [--subtitle TEXT]
//
// Prints the page height in pixels on stdout (for the screenshot's window size).

import { readFileSync, writeFileSync } from "node:fs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const prometheus = (args.prometheus ?? "http://127.0.0.1:9090").replace(/\/$/, "");
const start = Number(args.start);
const end = Number(args.end);
const step = Number(args.step ?? 2);
if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
  console.error("render-preview: --start and --end (unix seconds, end > start) are required");
  process.exit(2);
}
const dashboard = JSON.parse(readFileSync(args.dashboard ?? "dashboards/flywheel-dashboard.json", "utf8"));

// Layout: Grafana's 24-column grid; one grid row is ROW_PX tall.
const PAGE_W = 1600, PAD = 12, HEADER_H = 56, ROW_PX = 34, GAP = 8;
const COL_PX = (PAGE_W - 2 * PAD) / 24;
const COLORS = ["#73bf69", "#f2cc0c", "#5794f2", "#ff780a", "#f2495c", "#b877d9", "#8ab8ff", "#ff9830"];

// Grafana variables a query may use, resolved the way Grafana would for this window.
function substitute(expr) {
  const rateInterval = `${Math.max(4 * 1, step * 4)}s`; // 4 x scrape interval (1 s here), at least 4 steps
  return expr
    .replaceAll("$__rate_interval", rateInterval)
    .replaceAll("${__rate_interval}", rateInterval)
    .replaceAll("$__interval", `${step}s`)
    .replaceAll("${__interval}", `${step}s`)
    .replace(/\$\{?model\}?/g, ".*")
    .replace(/\$\{?__range\}?/g, `${Math.round(end - start)}s`);
}

async function queryRange(expr) {
  const url = `${prometheus}/api/v1/query_range?` + new URLSearchParams({ query: substitute(expr), start, end, step });
  const response = await fetch(url, { signal: AbortSignal.timeout(15000) });
  const body = await response.json();
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? response.status}`);
  return body.data.result; // [{ metric: {...}, values: [[t, "v"], ...] }]
}

function legend(format, metric, expr) {
  if (!format) return Object.keys(metric).length ? JSON.stringify(metric) : expr;
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => metric[name] ?? "");
}

// Value formatting by the panel's fieldConfig unit (the units this dashboard uses, and a plain fallback).
function trim(x, digits) {
  return Number(x.toFixed(digits)).toString();
}
function short(v, digits = 2) {
  const a = Math.abs(v);
  if (a >= 1e9) return trim(v / 1e9, digits) + " B";
  if (a >= 1e6) return trim(v / 1e6, digits) + " M";
  if (a >= 1e3) return trim(v / 1e3, digits) + " K";
  return trim(v, a < 1 && a > 0 ? 3 : digits);
}
function format(unit, v) {
  if (!Number.isFinite(v)) return "–";
  switch (unit) {
    case "s": {
      const a = Math.abs(v);
      if (a === 0) return "0 s";
      if (a < 1e-3) return trim(v * 1e6, 1) + " µs";
      if (a < 1) return trim(v * 1e3, 1) + " ms";
      return trim(v, 2) + " s";
    }
    case "percentunit": return trim(v * 100, 1) + "%";
    case "percent": return trim(v, 1) + "%";
    case "reqps": return short(v) + " req/s";
    case "none": case undefined: case null: case "": return short(v);
    default: return short(v) + " " + unit;
  }
}

// Round axis maximum and ticks: 1, 2, 2.5 or 5 times a power of ten.
function niceMax(max, unit) {
  if (unit === "percentunit" && max <= 1) return max <= 0 ? 1 : Math.min(1, niceMax(max, "none"));
  if (!(max > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * magnitude >= max * 1.05) return m * magnitude;
  return 10 * magnitude;
}

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const clock = (t) => new Date(t * 1000).toISOString().slice(11, 19);

function chart(panel, series, width, height) {
  const unit = panel.fieldConfig?.defaults?.unit;
  const all = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const yMax = niceMax(all.length ? Math.max(...all) : 0, unit);
  const labels = [0, 1, 2, 3, 4].map((i) => format(unit, (yMax * i) / 4));
  const left = 14 + 7 * Math.max(...labels.map((l) => l.length)), right = 30, top = 8, bottom = 22;
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (t) => left + ((t - start) / (end - start)) * plotW;
  const y = (v) => top + plotH - (v / yMax) * plotH;
  const parts = [];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4, py = y(v);
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${py}" y2="${py}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${py + 4}" text-anchor="end">${escape(labels[i])}</text>`);
  }
  const span = end - start, tickEvery = span > 240 ? 60 : span > 120 ? 30 : span > 50 ? 15 : 5;
  for (let t = Math.ceil(start / tickEvery) * tickEvery; t <= end; t += tickEvery) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${top + plotH}" class="grid"/>`);
    parts.push(`<text x="${x(t)}" y="${height - 6}" text-anchor="middle">${clock(t)}</text>`);
  }
  series.forEach((s, i) => {
    // A gap wherever the query returned nothing or NaN (e.g. a quantile over an idle histogram).
    const runs = [];
    let run = [];
    let last = null;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v) || (last !== null && t - last > step * 1.5)) {
        if (run.length) runs.push(run);
        run = [];
      }
      if (Number.isFinite(v)) run.push([t, v]);
      last = t;
    }
    if (run.length) runs.push(run);
    for (const r of runs) {
      const d = r.map(([t, v], j) => `${j ? "L" : "M"}${x(t).toFixed(1)},${y(Math.min(v, yMax)).toFixed(1)}`).join("");
      const fill = `${d}L${x(r.at(-1)[0]).toFixed(1)},${y(0)}L${x(r[0][0]).toFixed(1)},${y(0)}Z`;
      parts.push(`<path d="${fill}" fill="${s.color}" fill-opacity="0.12" stroke="none"/>`);
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`);
      if (r.length === 1) parts.push(`<circle cx="${x(r[0][0])}" cy="${y(r[0][1])}" r="2" fill="${s.color}"/>`);
    }
  });
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(0)}" y2="${y(0)}" class="axis"/>`);
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

const panels = dashboard.panels.filter((p) => p.gridPos && p.type !== "row");
const rendered = [];
const problems = [];
for (const panel of panels) {
  const series = [];
  for (const target of panel.targets ?? []) {
    if (!target.expr || target.hide) continue;
    try {
      for (const result of await queryRange(target.expr)) {
        series.push({
          name: legend(target.legendFormat, result.metric, target.expr),
          points: result.values.map(([t, v]) => [Number(t), Number(v)]),
          color: COLORS[series.length % COLORS.length],
        });
      }
    } catch (e) {
      problems.push(String(e.message ?? e));
    }
  }
  const { x, y, w, h } = panel.gridPos;
  const box = { left: PAD + x * COL_PX, top: HEADER_H + y * ROW_PX, width: w * COL_PX - GAP, height: h * ROW_PX - GAP };
  const unit = panel.fieldConfig?.defaults?.unit;
  const hasData = series.some((s) => s.points.some((p) => Number.isFinite(p[1])));
  if (!hasData) problems.push(`panel "${panel.title}": no data`);
  const legendRows = series
    .map((s) => {
      const values = s.points.map((p) => p[1]).filter(Number.isFinite);
      const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
      const max = values.length ? Math.max(...values) : NaN;
      return `<tr><td><span class="swatch" style="background:${s.color}"></span>${escape(s.name)}</td>` +
        `<td>${escape(format(unit, mean))}</td><td>${escape(format(unit, max))}</td></tr>`;
    })
    .join("");
  const legendH = 18 + 17 * Math.max(series.length, 1);
  const chartH = box.height - 30 - legendH;
  rendered.push(`<section class="panel" style="left:${box.left}px;top:${box.top}px;width:${box.width}px;height:${box.height}px">
<h2>${escape(panel.title)}</h2>
${hasData ? chart(panel, series, box.width - 2, chartH) : `<div class="nodata" style="height:${chartH}px">No data</div>`}
<table class="legend"><tr><th></th><th>mean</th><th>max</th></tr>${legendRows}</table>
</section>`);
}

const height = HEADER_H + Math.max(...panels.map((p) => (p.gridPos.y + p.gridPos.h) * ROW_PX)) + PAD;
const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escape(dashboard.title)}</title><style>
body { margin: 0; background: #111217; color: #ccccdc; font: 13px/1.3 "DejaVu Sans", Arial, sans-serif; width: ${PAGE_W}px; height: ${height}px; position: relative; overflow: hidden; }
header { position: absolute; left: ${PAD}px; right: ${PAD}px; top: 10px; display: flex; align-items: baseline; gap: 16px; }
header h1 { font-size: 19px; margin: 0; color: #e6e6ee; font-weight: 600; }
header .note { color: #8e8e9e; font-size: 12.5px; }
.panel { position: absolute; box-sizing: border-box; background: #181b1f; border: 1px solid #2a2d33; border-radius: 3px; overflow: hidden; }
.panel h2 { font-size: 13.5px; font-weight: 600; margin: 6px 10px 4px; color: #e6e6ee; height: 18px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
svg text { fill: #a0a0b0; font-size: 11.5px; }
svg .grid { stroke: #2c3035; stroke-width: 1; }
svg .axis { stroke: #4a4f57; stroke-width: 1; }
.nodata { display: flex; align-items: center; justify-content: center; color: #8e8e9e; }
.legend { margin: 0 10px; border-collapse: collapse; font-size: 12px; }
.legend th { color: #8e8e9e; font-weight: normal; text-align: right; padding: 0 0 0 18px; }
.legend td { padding: 0 0 0 18px; text-align: right; white-space: nowrap; }
.legend td:first-child { padding-left: 0; text-align: left; min-width: 170px; }
.swatch { display: inline-block; width: 14px; height: 4px; border-radius: 2px; margin: 0 6px 3px 0; vertical-align: middle; }
</style></head><body>
<header><h1>${escape(dashboard.title)}</h1><span class="note">${escape(args.subtitle ?? "")} ${clock(start)}–${clock(end)} UTC, step ${step}s.
Each panel is its own PromQL from dashboards/flywheel-dashboard.json, through Prometheus /api/v1/query_range; drawn by dashboards/render-preview.mjs, not Grafana.</span></header>
${rendered.join("\n")}
</body></html>`;
writeFileSync(args.out ?? "preview.html", html);
for (const p of problems) console.error("render-preview: " + p);
console.log(height);
