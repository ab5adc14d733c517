/**
 * deploy/grafana/nginx-authz.json: a dashboard whose every panel has a query, whose queries (and the
 * alert rules') name only metrics the service exports, and which covers what an operator asks first.
 * test/e2e/prometheus.test.ts runs every one of these queries against a real Prometheus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Metrics } from '../../src/ops/metrics.js';
import { dashboardQueries, type Panel } from './dashboard.js';
import { ROOT } from './tools.js';

/** Every series name the service's registry can export (histograms as _bucket, _sum, _count). */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.usesRedis(); // exported only with the Redis store (session.store: redis)
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

const namesIn = (expr: string): string[] => [...expr.matchAll(/\b(authz_[a-z_]+)\b/g)].map((m) => m[1]!);

describe('deploy/grafana/nginx-authz.json', () => {
  it('every panel has at least one query, and every query is a distinct PromQL expression', () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/nginx-authz.json'), 'utf8')) as { panels: Panel[] };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(12);
    for (const panel of panels)
      expect({ panel: panel.title, queries: (panel.targets ?? []).length > 0 }).toEqual({ panel: panel.title, queries: true });
    const exprs = dashboardQueries().map((q) => q.expr);
    expect(new Set(exprs).size).toBe(exprs.length);
  });

  it('covers decisions by result, resource, scope and source, cache hit ratio, IdP latency and errors, sessions, lockouts, p50/p99, Redis, back-channel logouts', () => {
    const all = dashboardQueries()
      .map((q) => q.expr)
      .join('\n');
    for (const needle of [
      'sum by (decision) (rate(authz_decisions_total',
      'sum by (resource, scope) (rate(authz_decisions_total',
      'sum by (source) (rate(authz_decisions_total',
      'authz_cache_requests_total{job=~"$job",result="hit"}',
      'histogram_quantile(0.99, sum by (endpoint, le) (rate(authz_idp_request_duration_seconds_bucket',
      'outcome=~"server_error|timeout|network_error"',
      'authz_cache_entries{job=~"$job",cache="session"}',
      'authz_basic_throttled_total',
      'histogram_quantile(0.5, sum by (le) (rate(authz_decision_duration_seconds_bucket',
      'histogram_quantile(0.99, sum by (le) (rate(authz_decision_duration_seconds_bucket',
      'min by (instance) (authz_redis_up{job=~"$job"})',
      'sum by (op) (rate(authz_redis_errors_total',
      'sum by (result) (increase(authz_backchannel_logouts_total',
      'sum by (kind) (increase(authz_logout_purged_total',
    ])
      expect(all).toContain(needle);
  });

  it('the dashboard and the alert rules name only metrics the service exports', async () => {
    const exported = await exportedNames();
    const rules = parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: { rules: { expr: string }[] }[] };
    const used = [...dashboardQueries().map((q) => q.expr), ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr))].flatMap(namesIn);
    expect(used.length).toBeGreaterThan(20);
    expect([...new Set(used)].filter((name) => !exported.has(name))).toEqual([]);
  });
});
