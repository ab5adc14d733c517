import { SubjectLimiter } from '../../src/decide/limiter.js';
import { RateLimited } from '../../src/errors.js';
import type { TrustedIssuer } from '../../src/idp/trusted-issuer.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import type { Identity } from '../../src/tokens/verify.js';
import { LogCapture } from '../helpers/service.js';

// Edges of the per-subject lookup limiter found by mutation testing (issue 16): the key (issuer +
// subject), the Retry-After arithmetic, the once-a-minute warning and the metric per lookup kind.

const WARNING = 'subject exceeds its IdP lookup rate; refusing lookups until its bucket refills (429 through NGINX)';

// username: null for a token without one.
const identity = (subject: string, issuerId?: string, username: string | null = `user-${subject}`): Identity => ({
  subject,
  username: username ?? undefined,
  email: undefined,
  groups: [],
  expiresAtMs: Infinity,
  tokenHash: `h-${subject}`,
  permissions: undefined,
  ...(issuerId === undefined ? {} : { issuer: { settings: { id: issuerId } } as unknown as TrustedIssuer }),
});

let now: number;
let metrics: Metrics;
let logs: LogCapture;
const limiterOf = (burst: number, perSecond: number, maxSubjects = 100) =>
  new SubjectLimiter({ burst, perSecond, maxSubjects }, metrics, createLogger('info', logs), () => now);
const outcome = (limiter: SubjectLimiter, caller: Identity, kind: Parameters<SubjectLimiter['take']>[1] = 'resource_name') => {
  try {
    limiter.take(caller, kind);
    return 'taken';
  } catch (error) {
    return error as RateLimited;
  }
};

beforeEach(() => {
  now = 1_000_000;
  metrics = new Metrics({ defaultMetrics: false });
  logs = new LogCapture();
});

describe('SubjectLimiter edges', () => {
  it("keeps the same subject of two issuers apart; an identity without issuer is the primary issuer's (id `primary`)", () => {
    const limiter = limiterOf(1, 1);
    expect(outcome(limiter, identity('alice', 'corp'))).toBe('taken');
    expect(outcome(limiter, identity('alice', 'corp'))).toBeInstanceOf(RateLimited);
    expect(outcome(limiter, identity('alice', 'partner'))).toBe('taken');
    expect(outcome(limiter, identity('alice'))).toBe('taken');
    expect(outcome(limiter, identity('alice'))).toBeInstanceOf(RateLimited);
    expect(outcome(limiter, identity('alice', 'primary'))).toBeInstanceOf(RateLimited);
    expect(limiter.size).toBe(3);
  });

  it('tells the seconds until one whole lookup is back, rounded up, at a slow rate', () => {
    const limiter = limiterOf(2, 0.1); // one lookup every 10 s
    const alice = identity('alice');
    outcome(limiter, alice);
    outcome(limiter, alice);
    expect((outcome(limiter, alice) as RateLimited).retryAfterSeconds).toBe(10);
    now += 2_500; // a quarter of a lookup back: 7.5 s to go
    expect((outcome(limiter, alice) as RateLimited).retryAfterSeconds).toBe(8);
    now += 7_499;
    expect((outcome(limiter, alice) as RateLimited).retryAfterSeconds).toBe(1);
    now += 1;
    expect(outcome(limiter, alice)).toBe('taken');
    expect(outcome(limiter, alice)).toBeInstanceOf(RateLimited);
  });

  it('says what was refused in the error', () => {
    const limiter = limiterOf(1, 2);
    outcome(limiter, identity('alice'), 'ticket');
    const refused = outcome(limiter, identity('alice'), 'ticket') as RateLimited;
    expect(refused.detail).toBe('ticket lookups over 2/s (burst 1) for this subject');
  });

  it('counts each lookup kind under its own label', async () => {
    const limiter = limiterOf(1, 1);
    const kinds = ['decision', 'resource_name', 'resource_uri', 'ticket'] as const;
    for (const [i, kind] of kinds.entries()) {
      const caller = identity(`s${i}`);
      outcome(limiter, caller, kind);
      for (let n = 0; n <= i; n++) outcome(limiter, caller, kind);
    }
    const text = await metrics.registry.metrics();
    for (const [i, kind] of kinds.entries()) expect(text).toContain(`authz_rate_limited_total{lookup="${kind}"} ${i + 1}`);
  });

  it('shows its lookups and evictions under cache="subject_limit"', async () => {
    const limiter = limiterOf(1, 0.001, 1);
    outcome(limiter, identity('a')); // a miss: a new bucket
    outcome(limiter, identity('a')); // a hit
    outcome(limiter, identity('b')); // a miss, and a evicted (one subject at most)
    const text = await metrics.registry.metrics();
    expect(text).toContain('authz_cache_requests_total{cache="subject_limit",result="hit"} 1');
    expect(text).toContain('authz_cache_requests_total{cache="subject_limit",result="miss"} 2');
    expect(text).toContain('authz_cache_evictions_total{cache="subject_limit"} 1');
  });

  it('warns again once a full minute has passed since the last warning, not before', () => {
    const limiter = limiterOf(1, 0.001); // no refill to speak of within the test
    const alice = identity('alice', undefined, 'alice.smith');
    outcome(limiter, alice);
    const warnings = () => logs.records.filter((r) => r.msg === WARNING);
    outcome(limiter, alice);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ user: 'alice.smith', lookup: 'resource_name', burst: 1, per_second: 0.001 });
    now += 59_999;
    outcome(limiter, alice);
    expect(warnings()).toHaveLength(1);
    now += 1;
    outcome(limiter, alice);
    expect(warnings()).toHaveLength(2);
  });

  it('names the subject in the warning when the token has no username', () => {
    const limiter = limiterOf(1, 1);
    const anonymous = identity('f3a1-77', undefined, null);
    outcome(limiter, anonymous);
    outcome(limiter, anonymous);
    expect(logs.records.find((r) => r.msg === WARNING)).toMatchObject({ user: 'f3a1-77' });
  });

  it('forgets the least recently used subject once maxSubjects are tracked: it starts with a full bucket', () => {
    const limiter = limiterOf(1, 0.001, 2);
    outcome(limiter, identity('a'));
    outcome(limiter, identity('b'));
    expect(outcome(limiter, identity('a'))).toBeInstanceOf(RateLimited); // a is now the most recent
    outcome(limiter, identity('c')); // evicts b
    expect(limiter.size).toBe(2);
    expect(outcome(limiter, identity('a'))).toBeInstanceOf(RateLimited);
    expect(outcome(limiter, identity('b'))).toBe('taken');
  });
});
