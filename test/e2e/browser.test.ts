/**
 * Browser single sign-on against the real stack (issue #5): headless Chromium opens the MLflow
 * UI through NGINX, is sent to Keycloak's real login page, signs in, and the UI's ajax-api
 * calls are authorized by the session cookie; a viewer's delete through the UI is refused,
 * an admin's succeeds; sign-out ends access at once.
 */
import { onKeycloakLogin, openBrowser, screenshot, signIn, type Browser } from './browser.js';
import { stack, tokenFor, uniqueName } from './stack.js';

const TIMEOUT = 180_000;
const U = stack.MLFLOW_URL!;

/** An experiment with one run, made by the admin through the REST API. */
async function experimentWithRun(): Promise<{ name: string; experimentId: string; runId: string }> {
  const token = await tokenFor('alice');
  const call = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${U}/api/2.0/mlflow/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const name = uniqueName('e2e-browser');
  const { experiment_id: experimentId } = (await call('experiments/create', { name })) as { experiment_id: string };
  const { run } = (await call('runs/create', { experiment_id: experimentId, run_name: 'victim' })) as { run: { info: { run_id: string } } };
  return { name, experimentId, runId: run.info.run_id };
}

async function lifecycle(runId: string): Promise<string> {
  const response = await fetch(`${U}/api/2.0/mlflow/runs/get?run_id=${runId}`, {
    headers: { authorization: `Bearer ${await tokenFor('alice')}` },
  });
  return ((await response.json()) as { run: { info: { lifecycle_stage: string } } }).run.info.lifecycle_stage;
}

/** Deletes the run through the UI (run page → overflow menu → Delete → confirm); the status of the UI's ajax call. */
async function deleteThroughUi(browser: Browser, experimentId: string, runId: string): Promise<number> {
  const { page } = browser;
  await page.goto(`${U}/#/experiments/${experimentId}/runs/${runId}`);
  await page.getByTestId('overflow-menu-trigger').click({ timeout: 60_000 });
  await page.getByRole('menuitem', { name: 'Delete' }).click();
  const answer = page.waitForResponse((response) => response.url().endsWith('/ajax-api/2.0/mlflow/runs/delete'), { timeout: 60_000 });
  await page
    .getByRole('dialog')
    .getByRole('button', { name: /^Delete/ })
    .click();
  return (await answer).status();
}

describe('browser single sign-on (Chromium, Keycloak login page, MLflow UI)', () => {
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  it(
    'sends the viewer to Keycloak, loads the experiments list with the session, refuses a delete, and sign-out ends access',
    async () => {
      const { name, experimentId, runId } = await experimentWithRun();
      browser = await openBrowser();
      const { page, context } = browser;

      // No session: NGINX hands the navigation to /oauth2/start, which redirects to Keycloak's real login page.
      await page.goto(`${U}/`);
      expect(await onKeycloakLogin(page)).toBe(true);
      await signIn(page, 'carol');
      expect(page.url()).toBe(`${U}/`);

      // The experiments list is loaded by the UI's ajax-api calls, authorized by the session cookie alone.
      const search = page.waitForResponse((response) => /\/ajax-api\/2\.0\/mlflow\/experiments\/search/.test(response.url()), {
        timeout: 60_000,
      });
      await page.goto(`${U}/#/experiments`);
      expect((await search).status()).toBe(200);
      await page.getByText(name).first().waitFor({ timeout: 60_000 });
      const cookie = (await context.cookies(U)).find((c) => c.name === 'nginx_authz_session');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false }); // plain http on loopback: not Secure
      const shot = await screenshot(page, 'browser-viewer-experiments.png');
      process.stdout.write(`screenshot of the logged-in UI: ${shot}\n`);

      // The viewer may read but not delete: the UI's delete call is refused by nginx-authz.
      expect(await deleteThroughUi(browser, experimentId, runId)).toBe(403);
      expect(await lifecycle(runId)).toBe('active');

      // Sign-out: the server-side session ends at once (the old cookie no longer works anywhere),
      // Keycloak's session ends too (end_session_endpoint), and the next navigation asks for a login again.
      await page.goto(`${U}/oauth2/sign_out`);
      await page.waitForURL((url) => url.href.startsWith(`${stack.KC_URL}/realms/mlflow/`), { timeout: 60_000 });
      expect(await onKeycloakLogin(page)).toBe(true);
      const replayed = await fetch(`${U}/ajax-api/2.0/mlflow/experiments/search?max_results=1`, {
        headers: { cookie: `nginx_authz_session=${cookie!.value}` },
      });
      expect(replayed.status).toBe(401);
      expect((await page.request.get(`${U}/ajax-api/2.0/mlflow/experiments/search?max_results=1`)).status()).toBe(401);
      await page.goto(`${U}/`);
      expect(await onKeycloakLogin(page)).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'lets the admin sign in the same way (back to the deep link, query intact) and delete the run through the UI',
    async () => {
      const { experimentId, runId } = await experimentWithRun();
      browser = await openBrowser();
      const { page } = browser;
      // A query with an encoded "&" and "=": the return target must survive NGINX and Keycloak byte for byte.
      const deepLink = `${U}/?from=e2e&note=a%26b%3Dc`;
      await page.goto(deepLink);
      expect(await onKeycloakLogin(page)).toBe(true);
      await signIn(page, 'alice');
      expect(page.url()).toBe(deepLink);
      expect(await deleteThroughUi(browser, experimentId, runId)).toBe(200);
      expect(await lifecycle(runId)).toBe('deleted');
      await screenshot(page, 'browser-admin-after-delete.png');
    },
    TIMEOUT,
  );

  it(
    'logs two tabs in at once: each callback finds its own pending login and lands on its own page',
    async () => {
      browser = await openBrowser();
      const first = browser.page;
      const second = await browser.context.newPage();
      // An expired session sends every open tab to login; each /oauth2/start leaves its own pending-login cookie.
      await first.goto(`${U}/?tab=1`);
      await second.goto(`${U}/?tab=2`);
      expect(await onKeycloakLogin(first)).toBe(true);
      expect(await onKeycloakLogin(second)).toBe(true);
      await signIn(second, 'carol');
      expect(second.url()).toBe(`${U}/?tab=2`);
      // Keycloak continues the other tab's login on its own once one tab has signed in; its
      // callback must find ITS pending login (state, nonce, PKCE verifier), not the second tab's.
      await first.waitForURL(`${U}/?tab=1`, { timeout: 60_000 });
      expect((await first.request.get(`${U}/ajax-api/2.0/mlflow/experiments/search?max_results=1`)).status()).toBe(200);
      const names = (await browser.context.cookies()).map((c) => c.name); // every path, /oauth2/ included
      expect(names.filter((n) => n.startsWith('nginx_authz_login_'))).toEqual([]); // both callbacks cleared theirs
    },
    TIMEOUT,
  );

  it(
    'keeps API clients on 401 JSON with WWW-Authenticate (no redirect without Accept: text/html)',
    async () => {
      const response = await fetch(`${U}/ajax-api/2.0/mlflow/experiments/search?max_results=1`, {
        redirect: 'manual',
        headers: { accept: 'application/json' },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="mlflow"');
      const navigation = await fetch(`${U}/?a=1&b=2`, { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(navigation.status).toBe(302);
      expect(navigation.headers.get('location')).toMatch(new RegExp(`^${stack.KC_URL}/realms/mlflow/protocol/openid-connect/auth\\?`));
    },
    TIMEOUT,
  );
});
