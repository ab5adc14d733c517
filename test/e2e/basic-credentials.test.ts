/**
 * Basic credentials for the MLflow client (issue #5): MLFLOW_TRACKING_USERNAME + PASSWORD are
 * exchanged by nginx-authz at Keycloak (password grant on the public mlflow-cli client), so the
 * real Python client works with nothing else; a wrong password is refused with a Basic
 * challenge; repeated failures are throttled (429 + Retry-After, no IdP call); and a run that
 * outlasts the access token's lifespan keeps logging, renewed transparently.
 */
import { setClientAttribute } from './keycloak-admin.js';
import { metric } from './login-http.js';
import { password, runPython, stack, uniqueName, viaNginx, type DemoUser } from './stack.js';

const SCENARIO = new URL('./python/client_scenario.py', import.meta.url).pathname;
const LONG_RUN = new URL('./python/long_run.py', import.meta.url).pathname;
const TIMEOUT = 180_000;

function clientEnv(user: DemoUser, secret: string): Record<string, string> {
  return {
    MLFLOW_TRACKING_URI: stack.MLFLOW_URL!,
    MLFLOW_TRACKING_USERNAME: user,
    MLFLOW_TRACKING_PASSWORD: secret,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    MLFLOW_HTTP_REQUEST_TIMEOUT: '60',
    MLFLOW_DISABLE_TELEMETRY: 'true',
    EXPERIMENT_NAME: uniqueName('e2e-basic'),
  };
}

const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

describe('Basic credentials (MLFLOW_TRACKING_USERNAME / PASSWORD) through NGINX', () => {
  it('lets the MLflow Python client log a run with username and password only', async () => {
    const result = await runPython([SCENARIO, 'create'], {
      ...clientEnv('bob', password('bob')),
      MLFLOW_ARTIFACTS_DESTINATION: `s3://${stack.S3_BUCKET ?? 'mlflow'}/artifacts`,
      MINIO_URL: stack.MINIO_URL!,
      MINIO_ROOT_USER: stack.MINIO_ROOT_USER!,
      MINIO_ROOT_PASSWORD: stack.MINIO_ROOT_PASSWORD!,
    });
    const created = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { run_id?: string; loss_history?: number[]; searched?: { status: string }[] };
    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
    expect(created.loss_history).toEqual([0.9, 0.5, 0.25]);
    expect(created.searched?.[0]?.status).toBe('FINISHED');
  }, TIMEOUT);

  it('refuses a wrong password (401 with a Basic challenge); the MLflow client reports it', async () => {
    const response = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', { headers: { authorization: basic('carol', 'not-her-password') } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="mlflow", charset="UTF-8"');

    const result = await runPython(['-c', 'import mlflow; mlflow.search_experiments()'], clientEnv('carol', 'still-not-her-password'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/401|Unauthorized|UNAUTHENTICATED/);
  }, TIMEOUT);

  it('throttles repeated failures per user: 429 with Retry-After, without asking Keycloak', async () => {
    const user = 'dave';
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      statuses.push((await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', { headers: { authorization: basic(user, `guess-${attempt}`) } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const grants = await metric('authz_password_grants_total', 'grant="password",result="rejected"');
    const throttled = await metric('authz_basic_throttled_total', 'by="user"');
    // Locked: even the right password waits, and Keycloak is not asked.
    const locked = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', { headers: { authorization: basic(user, password(user)) } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await metric('authz_basic_throttled_total', 'by="user"')).toBe(throttled + 1);
    expect(await metric('authz_password_grants_total', 'grant="password",result="rejected"')).toBe(grants);
    // Another user from the same address is not locked by dave's failures (per-address limit is higher).
    expect((await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', { headers: { authorization: basic('carol', password('carol')) } })).status).toBe(200);
  }, TIMEOUT);

  describe('a run longer than the access token lifespan', () => {
    const LIFESPAN_S = 60;
    let restore: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      // mlflow-cli is the client nginx-authz exchanges Basic credentials on (basic.clientId).
      restore = await setClientAttribute('mlflow-cli', 'access.token.lifespan', String(LIFESPAN_S));
    });
    afterAll(async () => {
      await restore?.();
    });

    it('keeps logging metrics for 80 s with a 60 s token, renewed transparently', async () => {
      const renewed = await metric('authz_password_grants_total', 'grant="refresh_token",result="ok"');
      // alice: no other test exchanges her Basic credentials, so none are cached with the realm's 300 s token.
      const result = await runPython([LONG_RUN], { ...clientEnv('alice', password('alice')), DURATION_SECONDS: '80', INTERVAL_SECONDS: '2' }, 170_000);
      expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
      const run = JSON.parse(result.stdout.trim().split('\n').pop()!) as { steps: number; seconds: number; history_steps: number[] };
      expect(run.seconds).toBeGreaterThan(LIFESPAN_S + 15);
      expect(run.history_steps).toEqual([...Array(run.steps).keys()]);
      expect(await metric('authz_password_grants_total', 'grant="refresh_token",result="ok"')).toBeGreaterThan(renewed);
      process.stdout.write(`long run: ${run.steps} metrics over ${run.seconds} s with a ${LIFESPAN_S} s access token\n`);
    }, 200_000);
  });
});
