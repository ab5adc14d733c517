/**
 * `npm run fuzz`, short (5,000 requests; the full 100,000 and its numbers are in docs/security.md):
 * malformed subrequests as NGINX can send them, against the built service started as
 * `npm start` starts it, with the issuer down for a tenth of the run.
 */
import { runScript } from './run-script.js';

describe('scripts/fuzz.mjs', () => {
  it('5,000 malformed subrequests: no crash, only 200/401/403 (503 while the issuer is down), RSS under 200 MB', async () => {
    const { code, summary } = await runScript('fuzz.mjs', { FUZZ_REQUESTS: '5000', FUZZ_SEED: String(Date.now() % 100_000) });
    expect(summary.failures).toEqual([]);
    expect(summary.alive).toBe(true);
    expect(summary.rss_max_mb as number).toBeLessThanOrEqual(200);
    const statuses = summary.statuses as Record<string, number>;
    expect(Object.keys(statuses).every((status) => /^(200|401|403|503|429 )/.test(status))).toBe(true);
    expect(statuses['403']).toBeGreaterThan(0);
    expect(code).toBe(0);
  }, 300_000);
});
