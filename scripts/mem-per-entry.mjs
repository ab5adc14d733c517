#!/usr/bin/env node
/**
 * Live heap bytes per cached decision and per cached identity, measured in-process on the built
 * caches (`npm run build && node --expose-gc scripts/mem-per-entry.mjs [decisions] [tokens]`).
 * The keys and identities have the shapes the service stores (a 22-character token hash,
 * the bench's resources and scopes; an identity as src/idp/kinds/jwt.ts builds it from a
 * Keycloak access token), so the figures are those a filled service pays on top of its base.
 */
import { DecisionCache } from '../dist/decide/cache.js';
import { Metrics } from '../dist/ops/metrics.js';
import { MeteredLru } from '../dist/ops/metered-lru.js';
import { identityBytes, hashToken } from '../dist/tokens/verify.js';
import { toIdentity } from '../dist/idp/kinds/jwt.js';
import { systemClock } from '../dist/clock.js';

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const decisions = Number(process.argv[2] ?? 100_000);
const tokens = Number(process.argv[3] ?? 20_000);
const PAIRS = [
  ['experiment', 'read'],
  ['run', 'read'],
  ['run', 'write'],
  ['artifact', 'read'],
  ['model', 'read'],
];

function heap() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

const hashes = Array.from({ length: Math.ceil(decisions / PAIRS.length) }, (_, i) => hashToken(`token-${i}`));
const metrics = new Metrics({ defaultMetrics: false });
const exp = Date.now() + 3_600_000;

let before = heap();
const cache = new DecisionCache(decisions + 10_000, { allowTtlMs: 3_600_000, denyTtlMs: 60_000 }, metrics, systemClock);
const decide = async () => undefined;
for (let i = 0; i < decisions; i++) {
  const [resource, scope] = PAIRS[i % PAIRS.length];
  // Built like src/auth/decide.ts decisionKey: a concatenation, as the request path makes it.
  await cache.fill(`${hashes[Math.floor(i / PAIRS.length)]}\u0000${resource}\u0000${scope}`, exp, decide);
}
const decisionBytes = (heap() - before) / decisions;

// Identities: one per token, made by toIdentity from a parsed Keycloak access token and keyed
// the way TokenVerifier keys them.
const iss = 'http://127.0.0.1:8080/realms/bench';
const issuer = {
  settings: { id: 'primary', claims: { username: ['preferred_username'], email: ['email'], groups: ['groups'] } },
  provider: { endpoints: { issuer: iss } },
};
before = heap();
const identities = new MeteredLru('token', { maxEntries: tokens + 10, maxBytes: (tokens + 10) * 4_000, sizeOf: identityBytes }, metrics);
const store =
  typeof identities.setShared === 'function'
    ? (key, value) => identities.setShared(key, value)
    : (key, value) => identities.set(key, value);
for (let i = 0; i < tokens; i++) {
  const payload = JSON.parse(
    JSON.stringify({
      iss,
      sub: `8f1c2d3e-4b5a-6978-8a9b-${String(i).padStart(12, '0')}`,
      preferred_username: `user${i}`,
      email: `user${i}@bench.test`,
      groups: ['mlflow-editors'],
      sid: `3a2b1c0d-${String(i).padStart(4, '0')}-4e5f-8a9b-0c1d2e3f4a5b`,
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(exp / 1000),
    }),
  );
  const tokenHash = hashToken(`identity-${i}`);
  const identity = toIdentity(issuer, payload, payload.sub, payload.exp * 1000, tokenHash, undefined, undefined);
  store(tokenHash, identity);
}
const identityBytesMeasured = (heap() - before) / tokens;
console.log(
  JSON.stringify({
    decisions: cache.size,
    bytes_per_decision: Math.round(decisionBytes),
    decision_estimate_per_entry: Math.round(cache.bytes / cache.size),
    identities: identities.size,
    bytes_per_identity: Math.round(identityBytesMeasured),
    identity_estimate_per_entry: Math.round(identities.bytes / identities.size),
  }),
);
