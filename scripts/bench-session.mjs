/**
 * Micro-benchmark of the browser-session step of /auth (`node scripts/bench-session.mjs` after
 * `npm run build`): Cookie header -> session id -> access token, for 1,000 sessions; first the
 * JWE decrypt of each cookie value, then the cached (synchronous) path the hot path takes.
 */
import { loadConfig } from '../dist/config/load.js';
import { Sessions } from '../dist/session/sessions.js';
import { Metrics } from '../dist/ops/metrics.js';
import { createLogger } from '../dist/log.js';
const config = loadConfig({ AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x', AUTHZ_CLIENT_ID: 'c' });
const sessions = new Sessions(
  config,
  async () => ({ refused: 'x' }),
  new Metrics({ defaultMetrics: false }),
  createLogger('silent'),
  Date.now,
);
const cookies = [];
for (let i = 0; i < 1000; i++) {
  const s = sessions.store.create({ accessToken: `at-${i}`, accessExpiresAtMs: Date.now() + 3_600_000, refreshToken: 'rt', idToken: 'id' });
  cookies.push(`_ga=GA1.1.123; nginx_authz_session=${await sessions.cookie.seal(s.id, s.absoluteExpiresAtMs)}; other=1`);
}
let t = performance.now();
for (const c of cookies) await sessions.accessToken(c);
const first = (performance.now() - t) / cookies.length;
for (let round = 0; round < 3; round++) {
  t = performance.now();
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const v = sessions.accessToken(cookies[i % 1000]);
    if (typeof v !== 'string') throw new Error('async');
  }
  console.log(`cached cookie -> token: ${(((performance.now() - t) * 1000) / n).toFixed(2)} µs/op (sync)`);
}
console.log(`first sight (JWE decrypt): ${(first * 1000).toFixed(1)} µs/op`);
