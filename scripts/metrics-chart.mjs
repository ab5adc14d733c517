#!/usr/bin/env node
/**
 * Draws decisions/s (by result) and the p99 decision latency from Prometheus range-query results
 * as one SVG, with no dependency: the chart in the README comes from a real run of
 * test/e2e/prometheus.test.ts (its test-artifacts/prometheus-e2e.json).
 *
 *   node scripts/metrics-chart.mjs <prometheus-e2e.json> <out.svg>
 *
 * The JSON holds `decisions` (sum by (decision) (rate(authz_decisions_total[5s]))) and `p99`
 * (histogram_quantile(0.99, ...)) as the `result` arrays of /api/v1/query_range, and the traffic's
 * `start`/`end` in milliseconds. Prints one summary line per series.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node scripts/metrics-chart.mjs <prometheus-e2e.json> <out.svg>\n');
  process.exit(2);
}
const data = JSON.parse(readFileSync(input, 'utf8'));

const COLORS = { allow: '#2e7d32', deny: '#ef6c00', error: '#c62828', p99: '#1565c0' };
const W = 760;
const PANEL_H = 170;
const M = { left: 64, right: 110, top: 34, gap: 58, bottom: 40 };
const H = M.top + PANEL_H * 2 + M.gap + M.bottom;
const plotW = W - M.left - M.right;

/** [seconds since the first sample, value] pairs; NaN (no traffic in the window) dropped. */
const points = (values, t0) => values.map(([t, v]) => [t - t0, Number(v)]).filter(([, v]) => Number.isFinite(v));
const escapeXml = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** A "nice" axis maximum and tick step for values up to `max`. */
function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw);
  return { top: step * Math.ceil(max / step), step };
}

const allSeries = [...data.decisions, ...data.p99];
const t0 = Math.min(...allSeries.flatMap((s) => s.values.map(([t]) => t)));
const t1 = Math.max(...allSeries.flatMap((s) => s.values.map(([t]) => t)));
const x = (t) => M.left + (plotW * t) / Math.max(1, t1 - t0);

function panel(y0, title, unit, series, format) {
  const max = Math.max(0, ...series.flatMap((s) => s.points.map(([, v]) => v)));
  const { top, step } = niceScale(max);
  const y = (v) => y0 + PANEL_H - (PANEL_H * v) / top;
  const out = [`<text x="${M.left}" y="${y0 - 10}" class="title">${escapeXml(title)}</text>`];
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    out.push(`<text x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${format(v)}</text>`);
  }
  out.push(
    `<text x="14" y="${y0 + PANEL_H / 2}" class="tick" transform="rotate(-90 14 ${y0 + PANEL_H / 2})" text-anchor="middle">${escapeXml(unit)}</text>`,
  );
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    const ly = y0 + 14 + i * 18;
    out.push(
      `<line x1="${M.left + plotW + 12}" x2="${M.left + plotW + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"/>`,
    );
    out.push(`<text x="${M.left + plotW + 36}" y="${ly}" class="legend">${escapeXml(s.name)}</text>`);
  });
  out.push(`<rect x="${M.left}" y="${y0}" width="${plotW}" height="${PANEL_H}" class="frame"/>`);
  return out.join('\n');
}

const decisions = data.decisions
  .map((s) => ({ name: s.metric.decision ?? 'all', color: COLORS[s.metric.decision] ?? '#555', points: points(s.values, t0) }))
  .sort((a, b) => a.name.localeCompare(b.name));
const p99 = data.p99.map((s) => ({ name: 'p99', color: COLORS.p99, points: points(s.values, t0).map(([t, v]) => [t, v * 1000]) }));

const y1 = M.top;
const y2 = M.top + PANEL_H + M.gap;
const xTicks = [];
const span = t1 - t0;
const xStep = niceScale(span, 6).step;
for (let t = 0; t <= span + 1e-9; t += xStep) {
  xTicks.push(`<text x="${x(t).toFixed(1)}" y="${y2 + PANEL_H + 16}" class="tick" text-anchor="middle">${Math.round(t)}</text>`);
  for (const y0 of [y1, y2])
    xTicks.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${y0}" y2="${y0 + PANEL_H}" class="grid"/>`);
}
const when = new Date(data.start).toISOString().slice(0, 16).replace('T', ' ');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<style>
.title { font-size: 14px; font-weight: bold; fill: #222; }
.tick { font-size: 11px; fill: #555; }
.legend { font-size: 12px; fill: #222; }
.grid { stroke: #e3e3e3; stroke-width: 1; }
.frame { fill: none; stroke: #999; stroke-width: 1; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
${xTicks.join('\n')}
${panel(y1, 'Decisions/s by result (rate over 5 s)', 'decisions/s', decisions, (v) => String(Math.round(v * 10) / 10))}
${panel(y2, 'p99 decision latency (/auth handler)', 'ms', p99, (v) => (v < 10 ? v.toFixed(1) : String(Math.round(v))))}
<text x="${M.left + plotW / 2}" y="${H - 8}" class="tick" text-anchor="middle">seconds into the e2e run (${escapeXml(when)} UTC, real Prometheus scraping every 1 s)</text>
</svg>
`;
writeFileSync(output, svg);
for (const s of [...decisions, ...p99]) {
  const values = s.points.map(([, v]) => v);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  const unit = s.name === 'p99' ? 'ms' : 'decisions/s';
  process.stdout.write(
    `${s.name}: ${values.length} points, mean ${mean.toFixed(2)} ${unit}, max ${Math.max(...values).toFixed(2)} ${unit}\n`,
  );
}
