import type { IncomingHttpHeaders } from 'node:http';
import request from 'supertest';
import { BadOriginalRequest, ConflictingOriginalRequest, RejectedUri } from '../../src/errors.js';
import { normalizeUri } from '../../src/request/normalize.js';
import { readOriginal, type ContractSettings } from '../../src/request/original.js';
import { TrustedProxies } from '../../src/request/trusted-proxies.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { type TestService, testService } from '../helpers/test-service.js';
import { sessionCookieFor } from '../helpers/session-cookie.js';

const CONTROLLER = '10.244.1.7';
const enabled: ContractSettings = { enabled: true, proxies: new TrustedProxies(['10.244.0.0/16']) };
const disabled: ContractSettings = { enabled: false, proxies: new TrustedProxies(['10.244.0.0/16']) };

/** The headers ingress-nginx's auth-url location sets for a request to `url` (its template, read not copied). */
function ingressHeaders(url: string, extra: IncomingHttpHeaders = {}): IncomingHttpHeaders {
  return {
    'x-original-url': url,
    'x-original-method': 'GET',
    'x-sent-from': 'nginx-ingress-controller',
    'x-real-ip': '203.0.113.9',
    'x-forwarded-for': '203.0.113.9',
    'x-auth-request-redirect': url.replace(/^https?:\/\/[^/]*/i, ''),
    ...extra,
  };
}

describe('readOriginal: ingress-nginx contract from a trusted sender', () => {
  it.each([
    ['https://mlflow.example.com/api/2.0/mlflow/experiments/search', '/api/2.0/mlflow/experiments/search'],
    ['http://mlflow.example.com:8080/ajax-api/2.0/mlflow/runs/get?run_id=abc&x=%2F', '/ajax-api/2.0/mlflow/runs/get?run_id=abc&x=%2F'],
    ['HTTPS://MLflow.Example.com/#/', undefined],
    ['http://[fd00::1]:5000/', '/'],
    ['http://10.0.0.1/get-artifact?path=a%20b', '/get-artifact?path=a%20b'],
  ])('%s → target %s', (url, target) => {
    if (target === undefined) {
      expect(() => readOriginal(ingressHeaders(url), CONTROLLER, enabled)).toThrow(RejectedUri);
      return;
    }
    const original = readOriginal(ingressHeaders(url), CONTROLLER, enabled);
    expect(original).toMatchObject({ contract: 'ingress-nginx', method: 'GET', target, clientAddress: '203.0.113.9' });
    expect(original.origin).toBe(new URL(url).origin);
  });

  it('keeps the raw target, so dot segments and encoded slashes reach the same normalisation (and are refused)', () => {
    for (const url of [
      'https://mlflow.example.com/api/2.0/mlflow/../../admin',
      'https://mlflow.example.com/api/2.0/mlflow/%2e%2e/x',
      'https://mlflow.example.com/get-artifact/a%2Fb',
      'https://mlflow.example.com/get-artifact/a%252Fb',
      'https://mlflow.example.com/a/./b',
    ]) {
      const original = readOriginal(ingressHeaders(url), CONTROLLER, enabled);
      // WHATWG's pathname would have resolved these: the raw target is what the upstream gets.
      expect(original.target).toBe(url.slice('https://mlflow.example.com'.length));
      expect(() => normalizeUri(original.target, 8192)).toThrow(RejectedUri);
    }
  });

  it.each([
    'ftp://mlflow.example.com/x',
    'javascript:alert(1)',
    '/api/2.0/mlflow/experiments/search',
    'mlflow.example.com/x',
    'https://user:pw@mlflow.example.com/x',
    'https://evil.example\\@mlflow.example.com/x',
    'https://mlflow.example.com',
    'https://mlflow.example.com?x=1',
    'https:///x',
    'https://mlflow.example.com/a b',
    'https://mlflow.example.com/a\tb',
    'https://mlflow.example.com/é',
    'https://mlflow.example.com/x#frag',
  ])('refuses X-Original-URL %j (403, not an absolute http(s) URL with a plain host and a path)', (url) => {
    expect(() => readOriginal(ingressHeaders(url), CONTROLLER, enabled)).toThrow(RejectedUri);
  });

  it('reads the client from X-Real-IP, else the LAST X-Forwarded-For entry; never X-Original-Remote-Addr', () => {
    const base = ingressHeaders('https://m.example.com/');
    expect(readOriginal({ ...base, 'x-original-remote-addr': '198.51.100.1' }, CONTROLLER, enabled).clientAddress).toBe('203.0.113.9');
    const chain = { ...base, 'x-real-ip': undefined, 'x-forwarded-for': '1.2.3.4, 198.51.100.7' };
    expect(readOriginal(chain, CONTROLLER, enabled).clientAddress).toBe('198.51.100.7');
    const bad = { ...base, 'x-real-ip': 'not-an-ip', 'x-forwarded-for': '1.2.3.4, garbage', 'x-original-remote-addr': '5.6.7.8' };
    expect(readOriginal(bad, CONTROLLER, enabled).clientAddress).toBeUndefined();
  });

  it('trusts a sender by its TCP peer address, IPv4-mapped IPv6 included', () => {
    expect(readOriginal(ingressHeaders('https://m.example.com/x'), `::ffff:${CONTROLLER}`, enabled).contract).toBe('ingress-nginx');
  });
});

describe('readOriginal: never two descriptions, never an untrusted X-Original-URL', () => {
  it('refuses X-Original-URI and X-Original-URL naming different requests, whoever sends them and whatever the mode', () => {
    const headers = ingressHeaders('https://m.example.com/api/2.0/mlflow/experiments/delete', { 'x-original-uri': '/health' });
    for (const [peer, settings] of [
      [CONTROLLER, enabled],
      ['192.0.2.1', enabled],
      [CONTROLLER, disabled],
    ] as const)
      expect(() => readOriginal(headers, peer, settings)).toThrow(ConflictingOriginalRequest);
    // Even a difference the normalisation would erase: neither description is picked.
    const close = ingressHeaders('https://m.example.com/health/', { 'x-original-uri': '/health' });
    expect(() => readOriginal(close, CONTROLLER, enabled)).toThrow(ConflictingOriginalRequest);
    const unreadable = { 'x-original-method': 'GET', 'x-original-uri': '/health', 'x-original-url': 'not a url' };
    expect(() => readOriginal(unreadable, CONTROLLER, disabled)).toThrow(ConflictingOriginalRequest);
  });

  it('accepts both when they agree (ingress-nginx sets X-Original-URI too when auth-method is given)', () => {
    const headers = ingressHeaders('https://m.example.com/x?y=1', { 'x-original-uri': '/x?y=1' });
    expect(readOriginal(headers, CONTROLLER, enabled)).toMatchObject({ contract: 'ingress-nginx', target: '/x?y=1' });
  });

  it('ignores X-Original-URL from an untrusted sender, or when the mode is off: 400 without X-Original-URI', () => {
    for (const [peer, settings] of [
      ['192.0.2.1', enabled],
      [undefined, enabled],
      [CONTROLLER, disabled],
    ] as const) {
      const error = (() => {
        try {
          readOriginal(ingressHeaders('https://m.example.com/health'), peer, settings);
        } catch (thrown) {
          return thrown;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(BadOriginalRequest);
      expect((error as BadOriginalRequest).detail).toMatch(/ingress\.enabled and from ingress\.trustedProxies/);
    }
  });

  it("keeps this project's NGINX contract as it was (X-Original-URI, X-Original-Remote-Addr)", () => {
    const headers = {
      'x-original-method': 'POST',
      'x-original-uri': '/a?b',
      'x-original-remote-addr': '198.51.100.1',
      'x-real-ip': '1.1.1.1',
    };
    expect(readOriginal(headers, '127.0.0.1', enabled)).toEqual({
      contract: 'nginx',
      method: 'POST',
      target: '/a?b',
      clientAddress: '198.51.100.1',
      origin: undefined,
    });
    expect(() => readOriginal({ 'x-original-method': 'GET' }, '127.0.0.1', enabled)).toThrow(BadOriginalRequest);
  });
});

describe('/auth with the ingress-nginx contract (the service, fake IdP)', () => {
  let idp: FakeIdp;
  let on: TestService;
  let off: TestService;

  beforeAll(async () => {
    // supertest connects from loopback: the default trustedProxies (127.0.0.1/32, ::1/128) holds it.
    ({ idp, service: on } = await testService({ env: { AUTHZ_INGRESS_ENABLED: 'true' } }));
    ({ service: off } = await testService({ idp, env: { AUTHZ_INGRESS_TRUSTED_PROXIES: '10.0.0.0/8' } }));
  });
  beforeEach(() => {
    idp.umaCalls = [];
    idp.uma = () => ({ status: 200, body: { result: true } });
  });

  const ingressAuth = (service: typeof on, url: string, headers: Record<string, string> = {}) =>
    request(service.handler)
      .get('/auth')
      .set({ 'X-Original-URL': url, 'X-Original-Method': 'GET', 'X-Sent-From': 'nginx-ingress-controller', ...headers });

  it('decides on X-Original-URL: a mapped route allowed with identity headers, an unmapped one refused (default deny)', async () => {
    const token = await idp.token({ sub: 'u-1', preferred_username: 'carol' });
    const allowed = await ingressAuth(on, 'https://mlflow.example.com/api/2.0/mlflow/experiments/search?max_results=1', {
      Authorization: `Bearer ${token}`,
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['x-auth-request-user']).toBe('carol');
    expect(idp.umaCalls).toHaveLength(1);
    const unmapped = await ingressAuth(on, 'https://mlflow.example.com/api/2.0/mlflow/not-a-route', { Authorization: `Bearer ${token}` });
    expect(unmapped.status).toBe(403);
    const dotted = await ingressAuth(on, 'https://mlflow.example.com/health/../api/2.0/mlflow/experiments/delete', {
      Authorization: `Bearer ${token}`,
    });
    expect(dotted.status).toBe(403);
    expect(idp.umaCalls).toHaveLength(1);
  });

  it('refuses a client X-Original-URI beside X-Original-URL (a public path for a protected one), with a log line', async () => {
    const before = on.logs.lines.length;
    const res = await ingressAuth(on, 'https://mlflow.example.com/api/2.0/mlflow/experiments/delete', { 'X-Original-URI': '/health' });
    expect(res.status).toBe(403);
    const line = on.logs.records.slice(before).find((record) => record.reason === 'bad_request_uri');
    expect(line).toMatchObject({ level: 40, detail: 'X-Original-URI and X-Original-URL name different requests' });
    // The same trick against a service that does not read X-Original-URL at all: still refused.
    expect(
      (await ingressAuth(off, 'https://mlflow.example.com/api/2.0/mlflow/experiments/delete', { 'X-Original-URI': '/health' })).status,
    ).toBe(403);
  });

  it('lets an untrusted X-Original-URL change nothing: the decision stays on X-Original-URI', async () => {
    const token = await idp.token({ sub: 'u-2', preferred_username: 'dave' });
    // off's trusted proxies (10.0.0.0/8) do not hold loopback: a direct caller's X-Original-URL is not read.
    const alone = await ingressAuth(off, 'https://mlflow.example.com/health');
    expect(alone.status).toBe(400);
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    const agreed = await ingressAuth(off, 'https://mlflow.example.com/api/2.0/mlflow/experiments/search', {
      'X-Original-URI': '/api/2.0/mlflow/experiments/search',
      Authorization: `Bearer ${token}`,
    });
    expect(agreed.status).toBe(403);
  });

  it('limits failed Basic attempts by X-Real-IP, not by a client-written X-Original-Remote-Addr', async () => {
    const { service: limited } = await testService({
      idp,
      env: {
        AUTHZ_INGRESS_ENABLED: 'true',
        AUTHZ_BASIC_ENABLED: 'true',
        AUTHZ_BASIC_MAX_FAILURES_PER_ADDRESS: '2',
        AUTHZ_BASIC_MAX_FAILURES_PER_USER: '100',
      },
    });
    // The fake IdP answers every grant but the PAT's with `uma`: here, the password grant's refusal.
    idp.uma = () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid user credentials' } });
    const attempt = (user: string, spoofed: string) =>
      ingressAuth(limited, 'https://mlflow.example.com/api/2.0/mlflow/experiments/search', {
        Authorization: `Basic ${Buffer.from(`${user}:wrong`).toString('base64')}`,
        'X-Real-IP': '203.0.113.50',
        'X-Original-Remote-Addr': spoofed,
      });
    expect((await attempt('a', '1.1.1.1')).status).toBe(401);
    expect((await attempt('b', '2.2.2.2')).status).toBe(401);
    const third = await attempt('c', '3.3.3.3');
    expect(third.headers['x-authz-retry-after']).toBeDefined(); // locked out by X-Real-IP despite new spoofed addresses
  });
});

describe('CSRF check of session-cookie writes under the ingress-nginx contract', () => {
  let idp: FakeIdp;
  let service: TestService;

  beforeAll(async () => {
    ({ idp, service } = await testService({
      env: { AUTHZ_INGRESS_ENABLED: 'true', AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' },
    }));
  });

  async function sessionCookie(sub: string): Promise<string> {
    const token = await idp.token({ sub, preferred_username: 'bob' });
    return sessionCookieFor(service, token);
  }

  /** A POST as the controller describes it: no X-Forwarded-Host (it does not set one), the client's Origin passed on. */
  const post = async (url: string, headers: Record<string, string>) =>
    request(service.handler)
      .get('/auth')
      .set({ 'X-Original-URL': url, 'X-Original-Method': 'POST', Cookie: await sessionCookie(`s-${Math.random()}`), ...headers });

  it("compares Origin with X-Original-URL's origin (its host allowed), not with the service's own Host", async () => {
    const runs = 'https://mlflow.example.com/ajax-api/2.0/mlflow/runs/create';
    expect((await post(runs, { Origin: 'https://mlflow.example.com' })).status).toBe(200);
    expect((await post(runs, { Origin: 'https://evil.example' })).status).toBe(403);
    // A client's X-Forwarded-Host (the controller passes it on) does not make another site this one.
    expect((await post(runs, { Origin: 'https://evil.example', 'X-Forwarded-Host': 'evil.example' })).status).toBe(403);
    // A host that is not allowed has no origin to compare with: refused.
    expect((await post('https://other.example/ajax-api/2.0/mlflow/runs/create', { Origin: 'https://other.example' })).status).toBe(403);
  });
});
