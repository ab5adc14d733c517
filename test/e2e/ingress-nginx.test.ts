/**
 * ingress-nginx's external auth contract against the real stack: a real NGINX rendered as the
 * controller renders auth-url/auth-signin/auth-response-headers (ingress-front.ts), the real
 * Keycloak and MLflow, and a nginx-authz of this checkout with `ingress.enabled` that trusts
 * only that NGINX's address. Requests are judged by their effect on MLflow and by what NGINX
 * sent upstream, not only by status.
 */
import { request as httpRequest } from 'node:http';
import { openBrowser, screenshot, type Browser } from './browser.js';
import { experimentByName, marked, proxiedAnyway, reachedUpstream } from './effects.js';
import { CONTROLLER_ADDRESS, startIngressFront, type IngressFront } from './ingress-front.js';
import { freePort, startOwnService, type OwnService } from './own-service.js';
import { claimsOf, password, runPython, stack, tokenFor, uniqueName } from './stack.js';

let service: OwnService;
let front: IngressFront;

beforeAll(async () => {
  const port = await freePort();
  service = await startOwnService(
    {
      AUTHZ_INGRESS_ENABLED: 'true',
      AUTHZ_INGRESS_TRUSTED_PROXIES: `${CONTROLLER_ADDRESS}/32`,
      AUTHZ_LOGIN_ENABLED: 'true',
      AUTHZ_BASIC_ENABLED: 'true',
      AUTHZ_BASIC_CLIENT_ID: 'mlflow-cli',
      AUTHZ_LOG_LEVEL: 'info',
    },
    { port },
  );
  front = await startIngressFront(port);
}, 60_000);
afterAll(async () => {
  await front?.stop();
  await service?.stop();
});

/** A request through the front with a raw path (node:http sends it as written: no dot-segment resolution). */
function viaIngress(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; location: string | undefined; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const all = payload === undefined ? headers : { ...headers, 'content-type': 'application/json' };
  return new Promise((resolve, reject) => {
    // host/port/path given apart: a URL string would be parsed by WHATWG rules, which resolve dot segments first.
    const { hostname, port } = new URL(front.url);
    const req = httpRequest({ hostname, port, path, method, headers: all }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const bearer = async (user: 'alice' | 'bob' | 'carol' | 'dave') => ({ authorization: `Bearer ${await tokenFor(user)}` });

describe('ingress-nginx auth-url against the real stack', () => {
  it('allows a bearer request: MLflow creates the experiment and receives the identity headers, not the client forgeries', async () => {
    const name = uniqueName('e2e-ingress');
    const { path, marker } = marked('/api/2.0/mlflow/experiments/create');
    const res = await viaIngress('POST', path, { ...(await bearer('bob')), 'X-Auth-Request-User': 'mallory' }, { name });
    expect(res.status).toBe(200);
    expect(await experimentByName(name)).toMatchObject({ lifecycle_stage: 'active' });
    const line = (await reachedUpstream([marker], front.upstreamLog)).get(marker) as unknown as Record<string, string>;
    const bob = claimsOf(await tokenFor('bob'));
    expect(line).toMatchObject({
      status: 200,
      client_sent_x_auth_request_user: 'mallory',
      x_auth_request_user: 'bob',
      x_auth_request_preferred_username: 'bob',
      x_auth_request_email: 'bob@example.test',
      x_auth_request_groups: 'mlflow-editors',
      x_auth_request_subject: bob.sub,
    });
  });

  it('refuses by default: an unmapped route and a role without the scope never reach MLflow', async () => {
    const unmapped = marked('/api/2.0/mlflow/no-such-endpoint');
    const viewerWrite = marked('/api/2.0/mlflow/experiments/create');
    const name = uniqueName('e2e-ingress-refused');
    expect((await viaIngress('GET', unmapped.path, await bearer('alice'))).status).toBe(403);
    expect((await viaIngress('POST', viewerWrite.path, await bearer('carol'), { name })).status).toBe(403);
    expect(await proxiedAnyway([unmapped.marker, viewerWrite.marker], front.upstreamLog)).toEqual([]);
    expect(await experimentByName(name)).toBeUndefined();
  });

  it.each([
    '/health/../api/2.0/mlflow/experiments/search',
    '/api/2.0/mlflow/experiments/%2e%2e/experiments/search',
    '/get-artifact/a%2F..%2Fb',
    '/api/2.0/mlflow-artifacts/artifacts/x%252F..%252Fy',
  ])('refuses %s (dot segments, encoded slashes): 403, not proxied', async (raw) => {
    const { path, marker } = marked(raw);
    const res = await viaIngress('GET', path, await bearer('alice'));
    expect(res.status).toBe(403);
    expect(await proxiedAnyway([marker], front.upstreamLog)).toEqual([]);
  });

  it("refuses a client's own X-Original-URI naming a public path (the controller passes it on)", async () => {
    const { path, marker } = marked('/api/2.0/mlflow/experiments/search?max_results=1');
    const res = await viaIngress('GET', path, { ...(await bearer('dave')), 'X-Original-URI': '/health' });
    expect(res.status).toBe(403);
    expect(await proxiedAnyway([marker], front.upstreamLog)).toEqual([]);
  });

  it('sends a bearer-less request through auth-signin with rd= the full original URL', async () => {
    const res = await viaIngress('GET', '/api/2.0/mlflow/experiments/search?max_results=1&a=b%2Fc');
    expect(res.status).toBe(302);
    const location = new URL(res.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${front.url}/oauth2/start`);
    expect(location.searchParams.get('rd')).toBe(`${front.url}/api/2.0/mlflow/experiments/search?max_results=1&a=b%2Fc`);
  });
});

describe('the MLflow Python client through the ingress front', () => {
  it('logs a run with a user name and password (Basic, exchanged by the service): the run is in MLflow', async () => {
    const name = uniqueName('e2e-ingress-client');
    const script = [
      'import mlflow',
      `mlflow.set_experiment(${JSON.stringify(name)})`,
      'with mlflow.start_run() as run:',
      '    mlflow.log_metric("m", 1.5)',
      'print(run.info.run_id)',
    ].join('\n');
    const result = await runPython(['-c', script], {
      MLFLOW_TRACKING_URI: front.url,
      MLFLOW_TRACKING_USERNAME: 'bob',
      MLFLOW_TRACKING_PASSWORD: password('bob'),
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
      MLFLOW_HTTP_REQUEST_TIMEOUT: '60',
      MLFLOW_DISABLE_TELEMETRY: 'true',
    });
    expect(result.code).toBe(0);
    const runId = result.stdout.trim().split('\n').pop()!;
    const experiment = await experimentByName(name);
    expect(experiment).toBeDefined();
    const run = await fetch(`${stack.MLFLOW_DIRECT_URL}/api/2.0/mlflow/runs/get?run_id=${runId}`).then((r) => r.json());
    expect(run).toMatchObject({
      run: { info: { experiment_id: experiment!.experiment_id }, data: { metrics: [{ key: 'm', value: 1.5 }] } },
    });
  }, 180_000);
});

describe('the service called directly, not from the trusted controller address', () => {
  /** GET /auth from 127.0.0.1 (not in ingress.trustedProxies) with the given headers. */
  const direct = (headers: Record<string, string>) => fetch(`${service.url}/auth`, { headers, redirect: 'manual' });
  const protectedUrl = () => `${front.url}/api/2.0/mlflow/experiments/search`;

  it('does not read X-Original-URL: alone it is a 400, beside X-Original-URI it changes nothing or refuses', async () => {
    const dave = await bearer('dave');
    expect((await direct({ 'X-Original-Method': 'GET', 'X-Original-URL': `${front.url}/health` })).status).toBe(400);
    const decided = await direct({ ...dave, 'X-Original-Method': 'GET', 'X-Original-URI': '/api/2.0/mlflow/experiments/search' });
    expect(decided.status).toBe(403);
    const withUrl = await direct({
      ...dave,
      'X-Original-Method': 'GET',
      'X-Original-URI': '/api/2.0/mlflow/experiments/search',
      'X-Original-URL': protectedUrl(),
    });
    expect(withUrl.status).toBe(decided.status);
    const publicUrl = await direct({
      'X-Original-Method': 'GET',
      'X-Original-URI': '/api/2.0/mlflow/experiments/search',
      'X-Original-URL': `${front.url}/health`,
    });
    expect(publicUrl.status).toBe(403);
  });
});

describe('browser sign-in through auth-signin (Chromium, Keycloak login page)', () => {
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  it('lands back on the original URL signed in, and MLflow receives the identity headers', async () => {
    browser = await openBrowser();
    const { page } = browser;
    const { path, marker } = marked('/api/2.0/mlflow/experiments/search?max_results=1');
    const original = `${front.url}${path}`;
    await page.goto(original);
    try {
      await page.locator('#username').waitFor({ timeout: 60_000 });
      expect(page.url().startsWith(`${stack.KC_URL}/realms/mlflow/`)).toBe(true);
      await page.fill('#username', 'carol');
      await page.fill('#password', password('carol'));
      await Promise.all([page.waitForURL(original, { timeout: 60_000 }), page.click('#kc-login')]);
    } catch (error) {
      await screenshot(page, 'ingress-nginx-signin.png');
      throw error;
    }
    expect(page.url()).toBe(original);
    expect(JSON.parse((await page.locator('body').textContent()) ?? '')).toHaveProperty('experiments');
    const line = (await reachedUpstream([marker], front.upstreamLog)).get(marker) as unknown as Record<string, string>;
    expect(line).toMatchObject({ status: 200, x_auth_request_user: 'carol', x_auth_request_groups: 'mlflow-viewers' });
    // The session cookie the sign-in set now authorizes the UI's own calls through the same front.
    const status = await page.evaluate(async () => (await fetch('/ajax-api/2.0/mlflow/experiments/search?max_results=1')).status);
    expect(status).toBe(200);
  }, 240_000);
});
