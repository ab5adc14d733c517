/**
 * Login and session hardening against the real stack (issue 10, A4 and A10b/c): after a real
 * Keycloak login, return targets that resolve to `//host` land on the site's own origin; a
 * state-changing request that the session cookie authenticates is refused when it comes from
 * another origin (here: a page on another port of 127.0.0.1, same-site to the browser, whose
 * Origin MLflow itself lets through), and MLflow's state does not change; sign-out from another
 * origin only asks for confirmation.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openBrowser, signIn, type Browser } from './browser.js';
import { sessionCookieFor, signInThrough } from './login-http.js';
import { stack, tokenFor, uniqueName, viaNginx } from './stack.js';

const TIMEOUT = 180_000;
const U = stack.MLFLOW_URL!;
const SITE = new URL(U).origin;

/** A run made by the admin through the REST API, for artifacts to land in. */
async function newRun(): Promise<{ experimentId: string; runId: string }> {
  const token = await tokenFor('alice');
  const created = await viaNginx('POST', '/api/2.0/mlflow/experiments/create', { token, body: { name: uniqueName('e2e-csrf') } });
  const { experiment_id: experimentId } = (await created.json()) as { experiment_id: string };
  const run = await viaNginx('POST', '/api/2.0/mlflow/runs/create', { token, body: { experiment_id: experimentId } });
  return { experimentId, runId: ((await run.json()) as { run: { info: { run_id: string } } }).run.info.run_id };
}

/** The run's artifact names, as the admin sees them. */
async function artifacts(runId: string): Promise<string[]> {
  const listed = await viaNginx('GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}`, { token: await tokenFor('alice') });
  return (((await listed.json()) as { files?: { path: string }[] }).files ?? []).map((file) => file.path);
}

async function experimentExists(name: string): Promise<boolean> {
  const found = await viaNginx('GET', `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`, {
    token: await tokenFor('alice'),
  });
  return found.status === 200;
}

/** Decisions nginx-authz refused as cross-origin session-cookie requests (all routes). */
async function crossOriginRefusals(): Promise<number> {
  const text = await (await fetch(`${stack.NGINX_AUTHZ_URL}/metrics`)).text();
  return text
    .split('\n')
    .filter((row) => row.startsWith('authz_decisions_total{') && row.includes('reason="cross_origin_request"'))
    .reduce((sum, row) => sum + Number(row.split(' ').pop()), 0);
}

describe('return target after a real login (A4: no open redirect through dot segments)', () => {
  it.each([
    '%2F.%2F%2Fevil.example%2Fsteal',
    '%2F%252e%2F%2Fevil.example%2Fx',
    '%2Fa%2F..%2F%2Fevil.example%2Fx',
    '%2F..%2F%2Fevil.example%2Fx',
    '%2F.%2F%2F',
    '%2F%5Cevil.example',
    '%2F%09%2Fevil.example',
  ])(
    "?rd=%s ends on the site's own origin, with the session cookie set",
    async (rd) => {
      const { cookie, location } = await signInThrough('carol', `/oauth2/start?rd=${rd}`);
      expect(location).not.toMatch(/^[/\\][/\\]/);
      expect(new URL(location, U).origin).toBe(SITE);
      expect(cookie).toMatch(/^nginx_authz_session=./);
    },
    60_000,
  );

  it('keeps an ordinary deep link', async () => {
    const { location } = await signInThrough('carol', `/oauth2/start?rd=${encodeURIComponent('/#/experiments/0?x=1')}`);
    expect(location).toBe('/#/experiments/0?x=1');
  }, 60_000);
});

describe('session cookie and requests from another origin (A10b/c)', () => {
  let attacker: Server | undefined;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    await new Promise((resolve) => (attacker === undefined ? resolve(undefined) : attacker.close(resolve)));
    attacker = undefined;
  });

  it("refuses a state-changing request with the session cookie from another origin; MLflow is unchanged; the site's own request passes", async () => {
    const cookie = await sessionCookieFor('bob'); // an editor: MLflow would create the experiment
    const name = uniqueName('e2e-csrf-exp');
    const create = (headers: Record<string, string>) =>
      viaNginx('POST', '/ajax-api/2.0/mlflow/experiments/create', { body: { name }, headers: { cookie, ...headers } });
    const before = await crossOriginRefusals();
    const attempts: Record<string, string>[] = [
      { origin: 'http://127.0.0.1:9' }, // another port of the same host: same-site, another origin (MLflow lets localhost origins through)
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: SITE, 'sec-fetch-site': 'same-site' },
      { referer: 'http://evil.example/page.html' },
      {}, // no Origin, no Referer
    ];
    for (const headers of attempts) expect([headers, (await create(headers)).status]).toEqual([headers, 403]);
    expect(await crossOriginRefusals()).toBe(before + attempts.length);
    expect(await experimentExists(name)).toBe(false);

    expect((await create({ origin: SITE, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect(await experimentExists(name)).toBe(true);
  }, 60_000);

  it(
    'Chromium: a page on another port (same-site) cannot make the signed-in browser upload an artifact; the MLflow page itself can',
    async () => {
      const { runId } = await newRun();
      const target = `${U}/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${runId}&path=`;
      // The attacker's page: a no-cors POST with a text/plain body, which needs no CORS preflight and carries the SameSite=Lax cookie (same site).
      attacker = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(
          `<!doctype html><script>fetch(${JSON.stringify(`${target}csrf.txt`)}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: 'planted by another page' }).then(() => { document.title = 'sent'; }, () => { document.title = 'failed'; });</script>`,
        );
      });
      await new Promise<void>((resolve) => attacker!.listen(0, '127.0.0.1', resolve));
      const attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;

      browser = await openBrowser();
      const { page } = browser;
      await page.goto(`${U}/`);
      await signIn(page, 'bob');
      const before = await crossOriginRefusals();

      const answered = page.waitForResponse((response) => response.url().endsWith('csrf.txt'), { timeout: 60_000 });
      await page.goto(attackerUrl);
      const response = await answered;
      expect(response.status()).toBe(403);
      await page.waitForFunction('document.title !== ""', undefined, { timeout: 30_000 });
      expect(await crossOriginRefusals()).toBe(before + 1);
      expect(await artifacts(runId)).not.toContain('csrf.txt');

      // The same call from the MLflow page (same origin, Chromium sends Origin) is allowed: the refusal above was about the origin.
      await page.goto(`${U}/`);
      const status = await page.evaluate(
        async (url) => (await fetch(url, { method: 'POST', credentials: 'include', body: 'from the site itself' })).status,
        `${target}own.txt`,
      );
      expect(status).toBe(200);
      expect(await artifacts(runId)).toContain('own.txt');
    },
    TIMEOUT,
  );

  it('sign-out from another origin (no Sec-Fetch-Site, Origin or Referer elsewhere) asks for confirmation and keeps the session', async () => {
    const cookie = await sessionCookieFor('carol');
    const search = () => viaNginx('GET', '/ajax-api/2.0/mlflow/experiments/search?max_results=1', { headers: { cookie } });
    for (const headers of [{ origin: 'http://evil.example' }, { referer: 'http://127.0.0.1:9/x' }, {}] as Record<string, string>[]) {
      const out = await viaNginx('POST', '/oauth2/sign_out', { headers: { cookie, ...headers } });
      expect(out.status).toBe(200);
      expect(await out.text()).toContain('<form method="post" action="/oauth2/sign_out">');
      expect((await search()).status).toBe(200);
    }
    const own = await viaNginx('POST', '/oauth2/sign_out', { headers: { cookie, origin: SITE } });
    expect(own.status).toBe(302);
    expect((await search()).status).toBe(401);
  }, 60_000);
});
