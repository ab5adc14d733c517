/**
 * scripts/metrics-chart.mjs and the README's chart: docs/images/metrics-e2e.svg is exactly what the
 * script draws from docs/images/metrics-e2e.json, that JSON has the shape of the real Prometheus
 * range queries test/e2e/prometheus.test.ts saves, and the drawing follows its input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DATA = join(ROOT, 'docs/images/metrics-e2e.json');

interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}
interface ChartData {
  start: number;
  end: number;
  decisions: RangeSeries[];
  p99: RangeSeries[];
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nginx-authz-chart-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function draw(data: unknown): { status: number | null; stdout: string; stderr: string; svg: string } {
  const input = join(dir, 'in.json');
  const output = join(dir, 'out.svg');
  writeFileSync(input, JSON.stringify(data));
  rmSync(output, { force: true });
  const result = spawnSync(process.execPath, ['scripts/metrics-chart.mjs', input, output], { cwd: ROOT, encoding: 'utf8' });
  let svg = '';
  try {
    svg = readFileSync(output, 'utf8');
  } catch {
    // no output: the status says why
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, svg };
}

describe('scripts/metrics-chart.mjs', () => {
  it("the README's chart is the script's drawing of the saved e2e data, byte for byte", () => {
    const drawn = draw(JSON.parse(readFileSync(DATA, 'utf8')));
    expect({ status: drawn.status, stderr: drawn.stderr }).toEqual({ status: 0, stderr: '' });
    expect(drawn.svg).toBe(readFileSync(join(ROOT, 'docs/images/metrics-e2e.svg'), 'utf8'));
  });

  it('the saved data has the shape of the e2e run’s Prometheus range queries: allow and deny rates and the p99, 1 s apart, over the traffic', () => {
    const data = JSON.parse(readFileSync(DATA, 'utf8')) as ChartData;
    expect(data.end - data.start).toBeGreaterThanOrEqual(25_000);
    expect(data.decisions.map((s) => s.metric.decision).sort()).toEqual(expect.arrayContaining(['allow', 'deny']));
    expect(data.p99).toHaveLength(1);
    for (const series of [...data.decisions, ...data.p99]) {
      const times = series.values.map(([t]) => t);
      expect(times.slice(1).map((t, i) => Math.round((t - times[i]!) * 1000))).toEqual(times.slice(1).map(() => 1000));
      // A series starts at its first sample in the range (the range opens 5 s before the traffic) and runs past its end.
      expect(times[0]! * 1000).toBeGreaterThanOrEqual(data.start - 5_000);
      expect(times[0]! * 1000).toBeLessThanOrEqual(data.start + 5_000);
      expect(times.at(-1)! * 1000).toBeGreaterThanOrEqual(data.end);
    }
    const allow = data.decisions.find((s) => s.metric.decision === 'allow')!.values.map(([, v]) => Number(v));
    expect(Math.max(...allow)).toBeGreaterThan(1);
  });

  it('draws what it is given: the summary and the lines follow the input', () => {
    const series = (decision: string, value: number): RangeSeries => ({
      metric: { decision },
      values: Array.from({ length: 11 }, (_, i) => [1000 + i, String(value)] as [number, string]),
    });
    const data = (allow: number): ChartData => ({
      start: 1_000_000,
      end: 1_010_000,
      decisions: [series('allow', allow), series('deny', 2)],
      p99: [{ metric: {}, values: Array.from({ length: 11 }, (_, i) => [1000 + i, '0.02'] as [number, string]) }],
    });
    const ten = draw(data(10));
    expect(ten.status).toBe(0);
    expect(ten.stdout).toContain('allow: 11 points, mean 10.00 decisions/s, max 10.00 decisions/s');
    expect(ten.stdout).toContain('deny: 11 points, mean 2.00 decisions/s');
    expect(ten.stdout).toContain('p99: 11 points, mean 20.00 ms');
    expect(ten.svg.match(/<path /g)).toHaveLength(3);
    const four = draw(data(4));
    expect(four.stdout).toContain('allow: 11 points, mean 4.00 decisions/s');
    expect(four.svg).not.toBe(ten.svg);
  });

  it('refuses to run without its two arguments', () => {
    const result = spawnSync(process.execPath, ['scripts/metrics-chart.mjs'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: node scripts/metrics-chart.mjs');
  });
});
