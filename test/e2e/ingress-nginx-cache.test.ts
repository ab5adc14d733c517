/**
 * Two more parts of ingress-nginx's external auth against the real stack (real NGINX rendered as the
 * controller renders the annotations, ingress-front.ts; real Keycloak and MLflow):
 *
 * - auth-cache-key / auth-cache-duration: rendered with the weakest key (the token alone) and the
 *   controller's default durations (200 202 401 5m), the controller's cache keeps nothing: every
 *   answer to the controller says `X-Accel-Expires: 0`, which NGINX obeys ahead of
 *   proxy_cache_valid, even when the client adds its own X-Authz-Cache-Key (which the controller
 *   passes on). A viewer's cached read would otherwise open a write for the same token.
 * - X-Real-IP: Basic lockouts by address count the address the controller saw, not one the client
 *   wrote in X-Real-IP or X-Forwarded-For.
 */
import { request as httpRequest } from 'node:http';
import { experimentByName, marked, proxiedAnyway, reachedUpstream } from './effects.js';
import { CONTROLLER_ADDRESS, startIngressFront, type IngressFront } from './ingress-front.js';
import { freePort, startOwnService, type OwnService } from './own-service.js';
import { password, tokenFor, uniqueName } from './stack.js';

let service: OwnService;
let front: IngressFront;

beforeAll(async () => {
  const port = await freePort();
  service = await startOwnService(
    {
      AUTHZ_INGRESS_ENABLED: 'true',
      AUTHZ_INGRESS_TRUSTED_PROXIES: `${CONTROLLER_ADDRESS}/32`,
      AUTHZ_BASIC_ENABLED: 'true',
      AUTHZ_BASIC_CLIENT_ID: 'mlflow-cli',
      AUTHZ_BASIC_MAX_FAILURES_PER_ADDRESS: '3',
      AUTHZ_LOG_LEVEL: 'info',
    },
    { port },
  );
  front = await startIngressFront(port, { authCache: { key: '$http_authorization', durations: ['200 202 401 5m'] } });
}, 60_000);
afterAll(async () => {
  await front?.stop();
  await service?.stop();
});

/** A request through the front from a chosen loopback address, with a raw path. */
function fromAddress(localAddress: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<number> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { hostname, port } = new URL(front.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        hostname,
        port,
        path,
        method,
        localAddress,
        agent: false,
        headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Every decision the service has made (the sum of authz_decisions_total). */
async function decisions(): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('authz_decisions_total{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const SEARCH = '/api/2.0/mlflow/experiments/search?max_results=1';

describe('auth-cache-key / auth-cache-duration on the controller', () => {
  it.each([
    ['without', {}],
    ['with a client’s own X-Authz-Cache-Key', { 'X-Authz-Cache-Key': 'h1 h2 127.0.0.1:80 _ /auth GET /' }],
  ])('keep nothing %s: every request is decided, and a cached read never opens a write', async (_, extra) => {
    const headers = { authorization: `Bearer ${await tokenFor('carol')}`, ...extra };
    const before = await decisions();
    const reads = [marked(SEARCH), marked(SEARCH), marked(SEARCH)];
    for (const read of reads) expect(await fromAddress('127.0.0.1', 'GET', read.path, headers)).toBe(200);
    expect(
      (
        await reachedUpstream(
          reads.map((r) => r.marker),
          front.upstreamLog,
        )
      ).size,
    ).toBe(3);
    expect((await decisions()) - before).toBe(3);
    // carol is a viewer: with the token-only key, an allow kept by the controller would answer this write too.
    const name = uniqueName('e2e-ingress-cache');
    const write = marked('/api/2.0/mlflow/experiments/create');
    expect(await fromAddress('127.0.0.1', 'POST', write.path, headers, { name })).toBe(403);
    expect(await proxiedAnyway([write.marker], front.upstreamLog)).toEqual([]);
    expect(await experimentByName(name)).toBeUndefined();
  });
});

describe('X-Real-IP from the controller', () => {
  it('locks out the address the controller saw, whatever the client writes in X-Real-IP or X-Forwarded-For', async () => {
    const throttledBefore = await service.metric('authz_basic_throttled_total', { by: 'address' });
    const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
    // Three wrong passwords of three made-up users from 127.0.0.7, each claiming another address.
    for (let i = 0; i < 3; i++) {
      const status = await fromAddress('127.0.0.7', 'GET', SEARCH, {
        authorization: basic(uniqueName('nobody').toLowerCase(), 'wrong'),
        'X-Real-IP': `10.9.9.${i}`,
        'X-Forwarded-For': `10.9.9.${i}`,
      });
      expect(status).toBe(302); // the 401, sent to auth-signin by the controller
    }
    // bob's right password from 127.0.0.7 is refused without an IdP call; from 127.0.0.8 it works.
    const locked = marked(SEARCH);
    expect(
      await fromAddress('127.0.0.7', 'GET', locked.path, { authorization: basic('bob', password('bob')), 'X-Real-IP': '10.9.9.9' }),
    ).toBe(302);
    expect(await proxiedAnyway([locked.marker], front.upstreamLog)).toEqual([]);
    expect((await service.metric('authz_basic_throttled_total', { by: 'address' })) - throttledBefore).toBe(1);
    expect(await fromAddress('127.0.0.8', 'GET', SEARCH, { authorization: basic('bob', password('bob')) })).toBe(200);
  }, 60_000);
});
