/**
 * Swapping the IdP by configuration (issue #6), end to end: a second, real, non-Keycloak OpenID
 * provider (npm `oidc-provider`, started here) beside the stack's Keycloak; one NGINX rendered
 * from the stack's template (test/e2e/front.ts) in front of the stack's MLflow; behind it, the
 * built nginx-authz (dist/main.js) restarted with one configuration file after another on the
 * same port. Between the runs only the configuration file changes: same binary, same NGINX
 * configuration (its bytes are compared).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFront, type Front } from './front.js';
import { startProvider, type RunningProvider } from './oidc/provider.js';
import { freePort, startOwnService, type OwnService } from './own-service.js';
import { stack, tokenFor } from './stack.js';
import { experimentByName } from './effects.js';

import { jest } from '@jest/globals';

jest.setTimeout(120_000);

const INTROSPECTOR = { id: 'nginx-authz', secret: 'e2e-introspection-secret-0123456789abcdef' };
let op: RunningProvider; // the second provider: claims and introspection
let stranger: RunningProvider; // a third provider nobody configured
let front: Front;
let authzPort: number;
let service: OwnService | undefined;
const dir = mkdtempSync(join(tmpdir(), 'authz-oidc-e2e-'));

beforeAll(async () => {
  [op, stranger] = await Promise.all([
    startProvider({
      clients: [
        { id: 'reader', secret: 'reader-secret-0123456789abcdef0123', scope: 'mlflow:read', groups: ['mlflow-viewers'] },
        { id: 'writer', secret: 'writer-secret-0123456789abcdef0123', scope: 'mlflow:read mlflow:write', roles: ['editor'] },
        { id: 'outsider', secret: 'outsider-secret-0123456789abcdef01', scope: 'profile' },
      ],
      introspector: INTROSPECTOR,
    }),
    startProvider({
      clients: [{ id: 'reader', secret: 'reader-secret-0123456789abcdef0123', scope: 'mlflow:read', groups: ['mlflow-viewers'] }],
    }),
  ]);
  authzPort = await freePort();
  front = await startFront('oidc-claims', authzPort); // before the service: nginx.sh keeps the port only while it is free
});
afterAll(async () => {
  await service?.stop();
  await Promise.all([front?.stop(), op?.stop(), stranger?.stop()]);
});

/** The claims policy for the second provider, shared by the configurations below. */
const policy = (indent: string) => `
${indent}policy:
${indent}  rules:
${indent}    "*#read": { anyOf: [{ claim: groups, values: [mlflow-viewers] }, { claim: scope, values: ["mlflow:read"] }] }
${indent}    "experiments#write": { anyOf: [{ claim: ["https://mlflow.example/roles"], values: [editor] }] }`;

const CONFIGS = {
  /** Only the second provider, claims mode. */
  claims: () => `issuers:
  - id: op
    url: ${op.issuer}
    mode: claims
    audiences: [nginx-authz]${policy('    ')}
`,
  /** Only Keycloak, UMA (the stack's configuration, written as a file). */
  keycloak: () => `issuer:
  url: ${stack.KC_ISSUER_URL}
client:
  id: ${stack.AUTHZ_CLIENT_ID ?? 'nginx-authz'}
  secret: ${stack.AUTHZ_CLIENT_SECRET}
`,
  /** Both at once: Keycloak UMA as the primary, the second provider in claims mode. */
  both: () => `${CONFIGS.keycloak()}issuers:
  - id: op
    url: ${op.issuer}
    mode: claims
    audiences: [nginx-authz]${policy('    ')}
`,
  /** The second provider's opaque tokens through RFC 7662; a revoked token is refused within cacheMaxSeconds (4 s). */
  introspection: () => `issuers:
  - id: op
    url: ${op.issuer}
    mode: introspection
    client: { id: ${INTROSPECTOR.id}, secret: ${INTROSPECTOR.secret} }
    introspection: { cacheMaxSeconds: 4, negativeCacheSeconds: 10 }${policy('    ')}
`,
};

/** (Re)starts nginx-authz on the port NGINX points at, with nothing but this configuration file. */
async function runWith(name: keyof typeof CONFIGS): Promise<OwnService> {
  await service?.stop();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, CONFIGS[name]());
  service = await startOwnService({ AUTHZ_CONFIG: file }, { port: authzPort, keycloak: false });
  return service;
}

const confHash = () => createHash('sha256').update(readFileSync(front.conf)).digest('hex');

/**
 * A request through the test's NGINX, with the Host of the stack's front: MLflow checks Host
 * against its --allowed-hosts (the stack's front), and this NGINX stands in for that front
 * (fetch cannot set Host, so node:http).
 */
function mlflow(
  method: 'GET' | 'POST',
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const headers: Record<string, string> = { host: new URL(stack.MLFLOW_URL!).host };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${front.url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
const SEARCH = '/api/2.0/mlflow/experiments/search?max_results=5';
/**
 * Creates an experiment through the test's NGINX, and judges the answer by MLflow's state (read
 * directly): after a 200 the experiment exists with the id returned; after any other answer, none
 * has that name. Callers assert the status.
 */
async function create(token: string | undefined, tag: string): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const name = `e2e-oidc-${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const res = await mlflow('POST', '/api/2.0/mlflow/experiments/create', token, { name });
  const stored = await experimentByName(name);
  expect([res.status, stored]).toEqual(
    res.status === 200
      ? [200, expect.objectContaining({ experiment_id: res.json?.experiment_id, lifecycle_stage: 'active' })]
      : [res.status, undefined],
  );
  return res;
}

describe('the IdP is a configuration choice', () => {
  let conf: string;

  it('claims mode with the second provider: its JWTs are allowed and refused per the policy, MLflow answers through NGINX', async () => {
    conf = confHash();
    await runWith('claims');
    const reader = await op.token('reader');
    const writer = await op.token('writer');
    const outsider = await op.token('outsider');

    const read = await mlflow('GET', SEARCH, reader);
    expect(read.status).toBe(200);
    expect(read.json).toHaveProperty('experiments'); // MLflow's own answer
    const created = await create(writer, 'writer');
    expect(created.status).toBe(200);
    expect(created.json).toHaveProperty('experiment_id');

    expect((await create(reader, 'reader')).status).toBe(403); // no editor role
    expect((await mlflow('GET', SEARCH, outsider)).status).toBe(403); // neither the group nor the scope: absent claims deny
    expect((await mlflow('GET', SEARCH)).status).toBe(401);
    expect((await mlflow('GET', SEARCH, await tokenFor('carol'))).status).toBe(401); // Keycloak is not configured here
    expect((await mlflow('GET', SEARCH, await stranger.token('reader'))).status).toBe(401);
    // Decided locally: no IdP call but discovery and the JWKS.
    expect(await service!.metric('authz_idp_requests_total', { endpoint: 'uma_decision' })).toBe(0);
    expect(
      await service!.metric('authz_decisions_total', { decision: 'allow', source: 'local', resource: 'experiments', scope: 'read' }),
    ).toBe(1);
  });

  it('switching to Keycloak is the configuration file alone: same binary, same NGINX', async () => {
    await runWith('keycloak');
    expect(confHash()).toBe(conf);
    expect((await mlflow('GET', SEARCH, await tokenFor('carol'))).status).toBe(200);
    expect((await create(await tokenFor('carol'), 'carol')).status).toBe(403); // the realm's UMA policies decide
    expect((await create(await tokenFor('bob'), 'bob')).status).toBe(200);
    expect((await mlflow('GET', SEARCH, await op.token('reader'))).status).toBe(401); // the second provider is not configured now
    expect(await service!.metric('authz_idp_requests_total', { endpoint: 'uma_decision', outcome: 'http_200' })).toBeGreaterThan(0);
  });

  it("two issuers at once, each token decided by its own issuer's rules; a third issuer refused", async () => {
    await runWith('both');
    expect(confHash()).toBe(conf);
    // Keycloak's tokens: UMA.
    expect((await mlflow('GET', SEARCH, await tokenFor('carol'))).status).toBe(200);
    expect((await create(await tokenFor('carol'), 'carol')).status).toBe(403);
    expect((await create(await tokenFor('alice'), 'alice')).status).toBe(200);
    expect((await mlflow('GET', SEARCH, await tokenFor('dave'))).status).toBe(403);
    // The second provider's tokens: its claims policy, no UMA call.
    const umaBefore =
      (await service!.metric('authz_idp_requests_total', { endpoint: 'uma_decision', outcome: 'http_200' })) +
      (await service!.metric('authz_idp_requests_total', { endpoint: 'uma_decision', outcome: 'http_403' }));
    expect((await mlflow('GET', SEARCH, await op.token('reader'))).status).toBe(200);
    expect((await create(await op.token('reader'), 'op-reader')).status).toBe(403);
    expect((await create(await op.token('writer'), 'op-writer')).status).toBe(200);
    const umaAfter =
      (await service!.metric('authz_idp_requests_total', { endpoint: 'uma_decision', outcome: 'http_200' })) +
      (await service!.metric('authz_idp_requests_total', { endpoint: 'uma_decision', outcome: 'http_403' }));
    expect(umaAfter).toBe(umaBefore);
    // A third issuer, with the same client names and claims: unknown, 401.
    expect((await mlflow('GET', SEARCH, await stranger.token('reader'))).status).toBe(401);
  });

  it('introspection of opaque tokens: allowed per policy, cached (one call), a revoked token refused once the 4 s cache bound has passed', async () => {
    await runWith('introspection');
    expect(confHash()).toBe(conf);
    const opaque = await op.token('reader', { format: 'opaque' });
    expect(opaque.split('.')).toHaveLength(1); // not a JWT
    for (let i = 0; i < 5; i++) expect((await mlflow('GET', SEARCH, opaque)).status).toBe(200);
    expect((await create(opaque, 'opaque-reader')).status).toBe(403);
    expect(await service!.metric('authz_introspection_requests_total', { issuer: 'op', result: 'active' })).toBe(1);

    await op.revoke('reader', opaque);
    const revokedAt = Date.now();
    let refusedAfterMs: number | undefined;
    while (Date.now() - revokedAt < 10_000) {
      if ((await mlflow('GET', SEARCH, opaque)).status === 401) {
        refusedAfterMs = Date.now() - revokedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(refusedAfterMs).toBeDefined();
    expect(refusedAfterMs!).toBeLessThanOrEqual(4_000 + 500); // cacheMaxSeconds, plus one poll and the call
    process.stdout.write(`introspection: revoked token refused ${refusedAfterMs} ms after revocation (bound: cacheMaxSeconds = 4 s)\n`);
    // The negative cache: further requests with the revoked token cost no call.
    for (let i = 0; i < 5; i++) expect((await mlflow('GET', SEARCH, opaque)).status).toBe(401);
    expect(await service!.metric('authz_introspection_requests_total', { issuer: 'op', result: 'inactive' })).toBe(1);
    expect(await service!.metric('authz_introspection_requests_total', { issuer: 'op', result: 'active' })).toBe(1);
    // Another opaque token of the same client is its own cache entry: one more call.
    expect((await mlflow('GET', SEARCH, await op.token('writer', { format: 'opaque' }))).status).toBe(200);
    expect(await service!.metric('authz_introspection_requests_total', { issuer: 'op', result: 'active' })).toBe(2);
  });
});
