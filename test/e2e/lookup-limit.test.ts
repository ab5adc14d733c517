/**
 * Issue 10, A8, through real NGINX (the stack's template and snippets, a front of its own) and the
 * stack's real Keycloak and MLflow: one viewer naming ever new experiment ids (`uma.perObject`)
 * causes at most `decision.lookupBurstPerSubject` protection-API lookups; past it the client gets
 * 429 with Retry-After from NGINX (the service's 401 + X-Authz-Retry-After), never a 500, and
 * another user is not affected. Runnable alone:
 * `npm run build && npm run test:e2e -- --testPathPattern e2e/lookup-limit`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFront, type Front } from './front.js';
import { freePort, startOwnService, type OwnService } from './own-service.js';
import { tokenFor } from './stack.js';

const BURST = 5;
let front: Front;
let service: OwnService;

beforeAll(async () => {
  const authzPort = await freePort();
  front = await startFront('lookup-limit', authzPort); // before the service: nginx.sh keeps the port only while it is free
  const dir = mkdtempSync(join(tmpdir(), 'authz-lookup-limit-'));
  writeFileSync(join(dir, 'config.yaml'), `decision:\n  lookupBurstPerSubject: ${BURST}\n  lookupsPerSecondPerSubject: 0.1\n`);
  service = await startOwnService({ AUTHZ_UMA_PER_OBJECT: 'true', AUTHZ_CONFIG: join(dir, 'config.yaml') }, { port: authzPort });
}, 90_000);

afterAll(async () => {
  await service?.stop();
  await front?.stop();
});

describe('per-subject lookup limit through NGINX', () => {
  it('a viewer inventing experiment ids gets 429 + Retry-After past the burst; others are unaffected', async () => {
    const carol = await tokenFor('carol');
    const base = 800_000_000 + Math.floor(Math.random() * 1_000_000) * 100;
    const lookupsBefore = await service.metric('authz_idp_requests_total', { endpoint: 'resource_set', outcome: 'http_200' });
    const answers: { status: number; retryAfter: string | null }[] = [];
    for (let i = 0; i < 15; i++) {
      const res = await fetch(`${front.url}/api/2.0/mlflow/experiments/get?experiment_id=${base + i}`, {
        headers: { authorization: `Bearer ${carol}` },
      });
      await res.arrayBuffer();
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
    }
    // The first ones reach MLflow (no such experiment: its own 404), the rest are NGINX's 429.
    expect(answers.slice(0, BURST).every((a) => a.status !== 429 && a.status < 500)).toBe(true);
    expect(answers.slice(BURST).map((a) => a.status)).toEqual(Array(15 - BURST).fill(429));
    expect(Number(answers[BURST]!.retryAfter)).toBeGreaterThanOrEqual(1);
    const lookups = (await service.metric('authz_idp_requests_total', { endpoint: 'resource_set', outcome: 'http_200' })) - lookupsBefore;
    expect(lookups).toBe(BURST);
    expect(await service.metric('authz_rate_limited_total', { lookup: 'resource_name' })).toBe(15 - BURST);

    const bob = await tokenFor('bob');
    const res = await fetch(`${front.url}/api/2.0/mlflow/experiments/get?experiment_id=${base + 50}`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    expect(res.status).not.toBe(429);
    expect(res.status).toBeLessThan(500);
  });
});
