import { SubjectLimiter } from '../../src/decide/limiter.js';
import { RateLimited } from '../../src/errors.js';
import { Metrics } from '../../src/ops/metrics.js';
import type { Identity } from '../../src/tokens/verify.js';
import { LogCapture } from '../helpers/service.js';
import { createLogger } from '../../src/log.js';

const identity = (subject: string): Identity => ({
  subject,
  username: subject,
  email: undefined,
  groups: [],
  expiresAtMs: Infinity,
  tokenHash: `h-${subject}`,
  permissions: undefined,
});

let now: number;
let metrics: Metrics;
let logs: LogCapture;
let limiter: SubjectLimiter;
beforeEach(() => {
  now = 1_000_000;
  metrics = new Metrics({ defaultMetrics: false });
  logs = new LogCapture();
  limiter = new SubjectLimiter({ burst: 3, perSecond: 2, maxSubjects: 100 }, metrics, createLogger('info', logs), () => now);
});

const refusal = (subject: string) => {
  try {
    limiter.take(identity(subject), 'resource_name');
    return undefined;
  } catch (error) {
    return error;
  }
};

describe('SubjectLimiter', () => {
  it('allows the burst, then refuses with the wait until one lookup is back', () => {
    for (let i = 0; i < 3; i++) expect(refusal('carol')).toBeUndefined();
    const error = refusal('carol');
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).status).toBe(401);
    expect((error as RateLimited).retryAfterSeconds).toBe(1);
  });

  it('refills at the configured rate, never above the burst', () => {
    for (let i = 0; i < 3; i++) refusal('carol');
    now += 500; // 2 per second: one back
    expect(refusal('carol')).toBeUndefined();
    expect(refusal('carol')).toBeInstanceOf(RateLimited);
    now += 60_000;
    for (let i = 0; i < 3; i++) expect(refusal('carol')).toBeUndefined();
    expect(refusal('carol')).toBeInstanceOf(RateLimited);
  });

  it('keeps one bucket per subject and issuer', () => {
    for (let i = 0; i < 3; i++) refusal('carol');
    expect(refusal('carol')).toBeInstanceOf(RateLimited);
    expect(refusal('bob')).toBeUndefined();
  });

  it('counts refusals by lookup kind and logs once a minute per subject', async () => {
    for (let i = 0; i < 10; i++) refusal('carol');
    expect(await metrics.registry.metrics()).toContain('authz_rate_limited_total{lookup="resource_name"} 7');
    const warnings = logs.records.filter(
      (r) => r.msg === 'subject exceeds its IdP lookup rate; refusing lookups until its bucket refills (429 through NGINX)',
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ user: 'carol', lookup: 'resource_name' });
  });

  it('tracks a bounded number of subjects', () => {
    for (let i = 0; i < 1_000; i++) refusal(`user-${i}`);
    expect(limiter.size).toBe(100);
  });
});
