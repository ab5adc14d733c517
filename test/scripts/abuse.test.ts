/**
 * `npm run abuse`, short: the built service started as `npm start` starts it (96 MB heap), one
 * authenticated user without permissions, many requests that each name something new. The
 * first test is issue 10's A5 reproduction (it killed the service on the main of that day:
 * V8 out of memory after ≈ 8,000 such requests); the full run and its numbers are in docs/security.md.
 */
import { runScript } from './run-script.js';

describe('scripts/abuse.mjs', () => {
  it('a flood of 10,000 distinct 7,900-character paths, 50 in parallel, leaves the service up under 200 MB', async () => {
    const { code, summary } = await runScript('abuse.mjs', { ABUSE_REQUESTS: '10000', ABUSE_PARALLEL: '50', ABUSE_KINDS: 'long-path' });
    expect(summary.failures).toEqual([]);
    expect(summary.alive).toBe(true);
    expect(summary.rss_max_mb as number).toBeLessThanOrEqual(200);
    expect(code).toBe(0);
  }, 600_000);

  it("mixed abuse (long URIs, resources, experiment and run ids, logins): up, bounded, other users' cached answers kept", async () => {
    const { code, summary } = await runScript('abuse.mjs', { ABUSE_REQUESTS: '3500', ABUSE_PARALLEL: '50' });
    expect(summary.failures).toEqual([]);
    expect(summary.rss_max_mb as number).toBeLessThanOrEqual(200);
    // Every kind was sent, and refused (the user has no permissions; 401 is a lockout or the lookup limit).
    const statuses = summary.statuses as Record<string, number>;
    for (const kind of ['long-path', 'resource', 'long-resource', 'experiment-id', 'artifact-path', 'run-id', 'login']) {
      expect(Object.keys(statuses).some((key) => key.startsWith(`${kind}:`))).toBe(true);
    }
    expect(Object.keys(statuses).every((key) => /:(401|403)$/.test(key))).toBe(true);
    expect(code).toBe(0);
  }, 300_000);
});
