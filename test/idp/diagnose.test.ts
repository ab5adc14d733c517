/** What a failed start says (src/idp/diagnose.ts): the URL tried, the outcome and a hint, through the real discovery code. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { diagnoseClientRefusal, StartupFailure } from '../../src/idp/diagnose.js';
import { IdentityProvider } from '../../src/idp/provider.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { testConfig, LogCapture } from '../helpers/service.js';
import type { FakeIdp } from '../helpers/fake-idp.js';

let server: Server;
let base: string;
/** path → [status, content-type, body] */
const answers = new Map<string, [number, string, string]>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const answer = answers.get(req.url ?? '');
    if (answer === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"Realm does not exist"}');
      return;
    }
    res.writeHead(answer[0], { 'content-type': answer[1] });
    res.end(answer[2]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

async function failure(issuer: string, env: Record<string, string> = {}): Promise<StartupFailure> {
  const provider = new IdentityProvider(
    testConfig({ url: issuer } as FakeIdp, env),
    new Metrics({ defaultMetrics: false }),
    createLogger('silent'),
  );
  const error = await provider.discoverOnce().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(StartupFailure);
  return error as StartupFailure;
}

const metadata = (issuer: string, jwks = `${issuer}/certs`) =>
  JSON.stringify({ issuer, token_endpoint: `${issuer}/token`, jwks_uri: jwks, response_types_supported: ['code'] });

describe('discovery failures', () => {
  it('a Keycloak realm that does not exist: 404 and the realm named', async () => {
    const { step, diagnosis } = await failure(`${base}/realms/mlfow`);
    expect(step).toBe('issuer discovery');
    expect(diagnosis).toEqual({
      url: `${base}/realms/mlfow/.well-known/openid-configuration`,
      outcome: 'HTTP 404',
      hint: `no realm "mlfow" there: check the realm name (case-sensitive); Keycloak's issuer is ${base}/realms/<realm>`,
    });
  });

  it('a base URL without the realm, or with the discovery path', async () => {
    expect((await failure(base)).diagnosis.hint).toBe(
      'no OpenID provider at this URL; for Keycloak the issuer is <base URL>/realms/<realm>',
    );
    expect((await failure(`${base}/realms/x/.well-known/openid-configuration`)).diagnosis.hint).toBe(
      'issuer.url is the issuer itself, without /.well-known/...',
    );
  });

  it('nothing listening', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await failure(`http://127.0.0.1:${port}/realms/x`);
    expect(refused.diagnosis.outcome).toBe('connection refused (ECONNREFUSED)');
    expect(refused.diagnosis.hint).toBe(`nothing listens at 127.0.0.1:${port}: is the IdP running, and is the port in issuer.url right?`);
  });

  it('an issuer that names itself differently (Keycloak hostname), HTML instead of metadata, a 5xx', async () => {
    answers.set('/other/.well-known/openid-configuration', [200, 'application/json', metadata('https://kc.example/realms/other')]);
    const mismatch = await failure(`${base}/other`);
    expect(mismatch.diagnosis.outcome).toBe(`the metadata names the issuer "https://kc.example/realms/other", not "${base}/other"`);
    expect(mismatch.diagnosis.hint).toMatch(/KC_HOSTNAME/);
    answers.set('/html/.well-known/openid-configuration', [200, 'text/html', '<html></html>']);
    expect((await failure(`${base}/html`)).diagnosis.outcome).toBe('not OIDC metadata (content-type text/html)');
    answers.set('/busy/.well-known/openid-configuration', [503, 'text/plain', 'busy']);
    expect((await failure(`${base}/busy`)).diagnosis).toMatchObject({ outcome: 'HTTP 503', hint: 'the IdP is failing or still starting' });
  });

  it('keys that cannot be loaded: the JWKS URL and its status', async () => {
    answers.set('/keys/.well-known/openid-configuration', [200, 'application/json', metadata(`${base}/keys`, `${base}/keys/gone`)]);
    answers.set('/keys/gone', [500, 'text/plain', 'oops']);
    const { step, diagnosis } = await failure(`${base}/keys`);
    expect(step).toBe('signing keys');
    expect(diagnosis).toMatchObject({ url: `${base}/keys/gone`, outcome: 'HTTP 500' });
  });
});

describe('retries', () => {
  it('logs each failed attempt with a doubling wait, and says why it is not ready', async () => {
    const logs = new LogCapture();
    const provider = new IdentityProvider(
      testConfig({ url: `${base}/realms/none` } as FakeIdp),
      new Metrics({ defaultMetrics: false }),
      createLogger('info', logs),
    );
    // discoveryRetryMs is 2 s by default: fake timers would also stop fetch, so watch the first two real attempts.
    void provider.start();
    const until = Date.now() + 8_000;
    while (logs.records.length < 2 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    provider.stop();
    expect(logs.records.map((line) => [line.attempt, line.retryInMs, line.outcome])).toEqual([
      [1, 2000, 'HTTP 404'],
      [2, 4000, 'HTTP 404'],
    ]);
    expect(provider.problem).toBe(
      `${base}/realms/none/.well-known/openid-configuration: HTTP 404 (no realm "none" there: check the realm name (case-sensitive); Keycloak's issuer is ${base}/realms/<realm>)`,
    );
    expect(provider.ready).toBe(false);
  });
});

describe('refused client credentials', () => {
  it('tells a wrong secret from a client without a service account', () => {
    expect(
      diagnoseClientRefusal('https://kc/token', 'nginx-authz', 401, {
        error: 'unauthorized_client',
        error_description: 'Invalid client or Invalid client credentials',
      }).hint,
    ).toMatch(/^the IdP refused client "nginx-authz" with this secret: set client\.secret \/ AUTHZ_CLIENT_SECRET/);
    expect(
      diagnoseClientRefusal('https://kc/token', 'nginx-authz', 400, {
        error: 'unauthorized_client',
        error_description: 'Client not enabled to retrieve service account',
      }).hint,
    ).toMatch(/has no service account: enable "Service accounts roles"/);
  });
});

describe('URLs with credentials', () => {
  it('never show the userinfo', async () => {
    const { diagnosis, message } = await failure(`${base.replace('http://', 'http://admin:SUPER-SECRET@')}/realms/x`, {
      AUTHZ_ALLOW_INSECURE_ISSUER: 'true',
    });
    expect(diagnosis.url).toBe(`${base.replace('http://', 'http://***@')}/realms/x/.well-known/openid-configuration`);
    expect(message).not.toContain('SUPER-SECRET');
  });
});

describe('discoveryOutcome: a failed discovery in the outcome set of every other IdP call', () => {
  it('names the status, a timeout, an unusable document or a network error', async () => {
    const { discoveryOutcome } = await import('../../src/idp/diagnose.js');
    expect(discoveryOutcome({ code: 'OAUTH_RESPONSE_IS_NOT_CONFORM', cause: new Response('', { status: 404 }) })).toBe('http_404');
    expect(discoveryOutcome({ code: 'OAUTH_RESPONSE_IS_NOT_CONFORM', cause: new Response('', { status: 502 }) })).toBe('server_error');
    expect(discoveryOutcome(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('timeout');
    expect(discoveryOutcome({ code: 'OAUTH_RESPONSE_IS_NOT_JSON' })).toBe('invalid_answer');
    expect(discoveryOutcome(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))).toBe('network_error');
  });
});
