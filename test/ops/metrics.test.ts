/**
 * src/ops/metrics.ts: the exported names, units, help texts and types pass `promtool check metrics`
 * (the real promtool, built by scripts/stack/install.sh prometheus), with every metric given a
 * sample; prom-client's misnamed *_total gauges are gone and their per-type gauges stay.
 */
import { MISNAMED_DEFAULT_GAUGES, Metrics } from '../../src/ops/metrics.js';
import { run, toolPath } from '../deploy/tools.js';

/** A registry in which every metric of the service has at least one series. */
function exercised(): Metrics {
  const metrics = new Metrics();
  metrics.recordDecision('allow', 'allowed', 'experiment:*', 'read', 'idp', 0.004);
  metrics.recordDecision('deny', 'access_denied', 'experiment:*', 'write', 'cache', 0.00003);
  metrics.cacheRequests.labels('decision', 'hit').inc();
  metrics.cacheEvictions.labels('decision').inc();
  metrics.cacheSizes = () => ({ decision: 3, session: 1 });
  metrics.idpRequests.labels('uma_decision', 'http_200').inc();
  metrics.idpDuration.labels('uma_decision').observe(0.01);
  metrics.jwksRefreshes.labels('ok').inc();
  metrics.routeMisconfigured('experiment:*', 'read', 'invalid_resource');
  metrics.rateLimited.labels('uma').inc();
  metrics.introspectionRequests.labels('https://idp.example', 'active').inc();
  metrics.logins.labels('ok').inc();
  metrics.sessionRefreshes.labels('ok').inc();
  metrics.passwordGrants.labels('password', 'ok').inc();
  metrics.basicThrottled.labels('user').inc();
  metrics.backchannelLogouts.labels('ok').inc();
  metrics.logoutPurged.labels('token').inc();
  metrics.usesRedis();
  metrics.redisUp.set(1);
  metrics.redisErrors.labels('session_read').inc();
  return metrics;
}

describe('Metrics', () => {
  it('exports authz_redis_up only once Redis is in use: a service on the memory store does not look like a Redis outage', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    expect(await metrics.registry.metrics()).not.toContain('authz_redis_up');
    metrics.usesRedis();
    metrics.usesRedis(); // a second connection (the bus) registers nothing twice
    expect(await metrics.registry.metrics()).toContain('\nauthz_redis_up 0\n');
    metrics.redisUp.set(1);
    expect(await metrics.registry.metrics()).toContain('\nauthz_redis_up 1\n');
  });

  it('promtool check metrics finds nothing to complain about in what the service exports', async () => {
    const text = await exercised().registry.metrics();
    expect(text).toContain('authz_basic_throttled_total{by="user"} 1');
    const result = run(toolPath('PROMTOOL_BIN'), ['check', 'metrics'], { input: text });
    expect({ status: result.status, problems: (result.stdout + result.stderr).trim() }).toEqual({ status: 0, problems: '' });
  });

  it('drops prom-client’s gauges named *_total and keeps the per-type ones', async () => {
    const text = await new Metrics().registry.metrics();
    for (const name of MISNAMED_DEFAULT_GAUGES) {
      expect(text).not.toContain(`# TYPE ${name} `);
      expect(text).toContain(`# TYPE ${name.replace(/_total$/, '')} gauge`);
    }
  });
});
