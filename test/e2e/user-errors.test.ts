/**
 * Errors an end user can act on (issue 15, item 6), on the real stack: the service explains a
 * refusal in X-Authz-Reason, NGINX writes it into the JSON `message` of its 401/403 body
 * (nginx/snippets/authz-errors.conf), and that is what the MLflow Python client's exception,
 * curl and the MLflow UI show. A 403 names the missing `resource#scope` and the caller's own
 * user name; a 401 names only the ways this site accepts to authenticate.
 */
import { openBrowser, screenshot, signIn, type Browser } from './browser.js';
import { runPython, stack, tokenFor, uniqueName, viaNginx, type DemoUser } from './stack.js';

const SCRIPT = new URL('./python/refusal_message.py', import.meta.url).pathname;
const TIMEOUT = 180_000;
const U = stack.MLFLOW_URL!;

/** The stack runs with Basic and the browser login enabled (scripts/stack/authz.sh). */
const WAYS =
  'send an access token (Authorization: Bearer; MLflow client: MLFLOW_TRACKING_TOKEN) or a user name and password ' +
  '(HTTP Basic; MLflow client: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD), or sign in with a browser at /oauth2/start';
const USERS: DemoUser[] = ['alice', 'bob', 'carol', 'dave'];

interface Outcome {
  ok: boolean;
  error_code?: string;
  http_status?: number;
  message?: string;
  text?: string;
}

/** The MLflow Python client creating an experiment, with a token for `user` or with no credentials at all. */
async function createExperiment(user: DemoUser | undefined): Promise<Outcome> {
  const result = await runPython([SCRIPT], {
    MLFLOW_TRACKING_URI: U,
    ...(user === undefined ? {} : { MLFLOW_TRACKING_TOKEN: await tokenFor(user) }),
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    MLFLOW_HTTP_REQUEST_TIMEOUT: '60',
    MLFLOW_DISABLE_TELEMETRY: 'true',
    EXPERIMENT_NAME: uniqueName('e2e-user-errors'),
  });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code !== 0 || !last.startsWith('{'))
    throw new Error(`refusal_message.py exited ${result.code}\n${result.stdout}\n${result.stderr.slice(-3000)}`);
  return JSON.parse(last) as Outcome;
}

/** A 401 body must name no user and no permission: the caller proved nothing. */
function expectNothingNamed(text: string): void {
  for (const user of USERS) expect(text).not.toContain(user);
  expect(text).not.toMatch(/#(read|write|delete|manage)\b|experiments\b|runs\b/);
}

describe('the MLflow Python client says what was missing', () => {
  it(
    'names experiments#write and carol when the viewer creates an experiment',
    async () => {
      const outcome = await createExperiment('carol');
      const message = 'PERMISSION_DENIED: Permission denied: missing permission experiments#write for user carol';
      expect(outcome).toEqual({ ok: false, error_code: 'PERMISSION_DENIED', http_status: 403, message, text: message });
    },
    TIMEOUT,
  );

  it(
    'lists the accepted ways to authenticate and the login URL when no credentials are set',
    async () => {
      const outcome = await createExperiment(undefined);
      const message = `UNAUTHENTICATED: Authentication required: ${WAYS}`;
      expect(outcome).toEqual({ ok: false, error_code: 'UNAUTHENTICATED', http_status: 401, message, text: message });
      expectNothingNamed(outcome.text!);
    },
    TIMEOUT,
  );
});

describe('curl sees the same explanation in the JSON body', () => {
  it("403: the permission and the caller's own user name, nothing of the token", async () => {
    const token = await tokenFor('carol');
    const response = await viaNginx('POST', '/api/2.0/mlflow/experiments/create', { token, body: { name: uniqueName('e2e-user-errors') } });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('application/json');
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      error_code: 'PERMISSION_DENIED',
      message: 'Permission denied: missing permission experiments#write for user carol',
    });
    expect(text).not.toContain(token.split('.')[2]!.slice(0, 12));
    expect(response.headers.get('x-authz-reason')).toBeNull(); // the header stays between the service and NGINX
  });

  it('401 without credentials, with a bad token and with a refused password: the ways in, and no user', async () => {
    const anonymous = await viaNginx('POST', '/api/2.0/mlflow/experiments/create', { body: { name: 'x' } });
    const badToken = await viaNginx('GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', { token: 'not-a-token' });
    const stranger = `nobody-${uniqueName('e2e')}`;
    const badPassword = await viaNginx('GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', {
      headers: { authorization: `Basic ${Buffer.from(`${stranger}:wrong`).toString('base64')}` },
    });
    const expected = [
      [anonymous, `Authentication required: ${WAYS}`],
      [badToken, `Authentication required: the access token was not accepted (expired, revoked or not for this site); ${WAYS}`],
      [badPassword, `Authentication required: the user name or password was not accepted; ${WAYS}`],
    ] as const;
    for (const [response, message] of expected) {
      expect(response.status).toBe(401);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ error_code: 'UNAUTHENTICATED', message });
      expectNothingNamed(text);
      expect(text).not.toContain(stranger);
      expect(response.headers.get('x-authz-reason')).toBeNull();
    }
  });

  it('403 before any identity (an unmapped path) names the method it was sent and no user', async () => {
    const response = await viaNginx('GET', '/api/2.0/mlflow/no-such-endpoint');
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error_code: 'PERMISSION_DENIED',
      message: 'Permission denied: no permission is mapped for GET on this path (default deny)',
    });
  });
});

/** True once `locator`'s box lies inside the viewport and stops moving (animations done), within 10 s. */
async function settledInside(page: Browser['page'], locator: ReturnType<Browser['page']['getByText']>, width: number): Promise<boolean> {
  let last = '';
  for (let i = 0; i < 40; i += 1) {
    const box = await locator.boundingBox();
    const now = JSON.stringify(box);
    if (box !== null && box.x >= 0 && box.x + box.width <= width && now === last) return true;
    last = now;
    await page.waitForTimeout(250);
  }
  return false;
}

describe('the MLflow UI shows it (Chromium)', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'shows the viewer which permission her delete lacked',
    async () => {
      const alice = await tokenFor('alice');
      const call = async (path: string, body: unknown): Promise<Record<string, unknown>> =>
        (await viaNginx('POST', `/api/2.0/mlflow/${path}`, { token: alice, body })).json() as Promise<Record<string, unknown>>;
      const { experiment_id: experimentId } = (await call('experiments/create', { name: uniqueName('e2e-user-errors-ui') })) as {
        experiment_id: string;
      };
      const { run } = (await call('runs/create', { experiment_id: experimentId, run_name: 'kept' })) as {
        run: { info: { run_id: string } };
      };

      browser = await openBrowser();
      const { page } = browser;
      await page.goto(`${U}/`);
      await signIn(page, 'carol');
      await page.goto(`${U}/#/experiments/${experimentId}/runs/${run.info.run_id}`);
      await page.getByTestId('overflow-menu-trigger').click({ timeout: 60_000 });
      await page.getByRole('menuitem', { name: 'Delete' }).click();
      const answer = page.waitForResponse((response) => response.url().endsWith('/ajax-api/2.0/mlflow/runs/delete'), { timeout: 60_000 });
      await page
        .getByRole('dialog')
        .getByRole('button', { name: /^Delete/ })
        .click();
      expect((await answer).status()).toBe(403);

      // MLflow's UI shows the failed call's "error_code: message" in a notification.
      const shown = page.getByText('PERMISSION_DENIED: Permission denied: missing permission runs#delete for user carol', { exact: true });
      await shown.waitFor({ timeout: 30_000 });
      expect(await shown.isVisible()).toBe(true);
      // The notification slides in while the dialog fades: screenshot once it rests fully inside the window.
      await page.getByRole('dialog').waitFor({ state: 'hidden', timeout: 30_000 });
      expect(await settledInside(page, shown, 1280)).toBe(true);
      const shot = await screenshot(page, 'user-errors-viewer-delete-refused.png');
      process.stdout.write(`screenshot of the refused delete: ${shot}\n`);
    },
    TIMEOUT,
  );
});
