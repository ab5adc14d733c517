import { FailureThrottle } from '../../src/basic/throttle.js';

describe('FailureThrottle (sliding window, lockout; frozen clock)', () => {
  let now = 1_000_000;
  const throttle = () => new FailureThrottle({ maxFailures: 3, windowMs: 60_000, lockoutMs: 30_000, maxEntries: 100 }, () => now);

  it('locks after maxFailures within the window, for lockoutMs', () => {
    const t = throttle();
    t.fail('u');
    t.fail('u');
    expect(t.retryAfterSeconds('u')).toBe(0);
    t.fail('u');
    expect(t.retryAfterSeconds('u')).toBe(30);
    now += 10_500;
    expect(t.retryAfterSeconds('u')).toBe(20);
    now += 20_000;
    expect(t.retryAfterSeconds('u')).toBe(0);
    expect(t.retryAfterSeconds('other')).toBe(0);
  });

  it('forgets failures older than the window', () => {
    const t = throttle();
    t.fail('u');
    t.fail('u');
    now += 61_000;
    t.fail('u');
    expect(t.retryAfterSeconds('u')).toBe(0);
    t.fail('u');
    t.fail('u');
    expect(t.retryAfterSeconds('u')).toBe(30);
  });

  it('a success clears earlier failures, but not a lockout under way', () => {
    const t = throttle();
    t.fail('u');
    t.fail('u');
    t.succeed('u');
    t.fail('u');
    t.fail('u');
    expect(t.retryAfterSeconds('u')).toBe(0);
    t.fail('u');
    t.succeed('u');
    expect(t.retryAfterSeconds('u')).toBe(30);
  });
});
