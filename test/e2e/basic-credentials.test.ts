/**
 * Basic credentials for the MLflow client (issue #5): MLFLOW_TRACKING_USERNAME + PASSWORD are
 * exchanged by nginx-authz at Keycloak (password grant on the public mlflow-cli client), so the
 * real Python client works with nothing else; a wrong password is refused with a Basic
 * challenge; repeated failures are throttled (429 + Retry-After, no IdP call); and a run that
 * outlasts the access token's lifespan keeps logging, renewed transparently. Concurrent guesses
 * cannot overrun the limits, and a lockout answers the right password like a wrong one (issue 10 A2):
 * the attackers send from other loopback addresses (127.0.0.x), which NGINX reports as $remote_addr.
 */
import { request } from 'node:http';
import { adminHeaders, setClientAttribute } from './keycloak-admin.js';
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
const SEARCH = '/api/2.0/mlflow/experiments/search?max_results=1';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** GET through NGINX from a chosen loopback source address (NGINX's $remote_addr, the service's throttling key). */
function fromAddress(source: string, path: string, authorization: string): Promise<Answer> {
  const target = new URL(path, stack.MLFLOW_URL);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        localAddress: source,
        headers: { authorization },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Keycloak admin (the stack's dev-only admin): a realm user in mlflow-viewers, and its removal. */
async function adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${stack.KC_URL}/admin/realms/mlflow${path}`, {
    ...init,
    headers: await adminHeaders(),
  });
}

async function createViewer(username: string, secret: string): Promise<string> {
  const created = await adminFetch('/users', {
    method: 'POST',
    body: JSON.stringify({
      username,
      enabled: true,
      email: `${username}@example.test`,
      emailVerified: true,
      firstName: 'Test',
      lastName: 'Viewer',
      groups: ['/mlflow-viewers'],
      credentials: [{ type: 'password', value: secret, temporary: false }],
    }),
  });
  if (created.status !== 201) throw new Error(`create user ${username}: ${created.status} ${await created.text()}`);
  return created.headers.get('location')!.split('/').pop()!;
}

describe('Basic credentials (MLFLOW_TRACKING_USERNAME / PASSWORD) through NGINX', () => {
  it(
    'lets the MLflow Python client log a run with username and password only',
    async () => {
      const result = await runPython([SCENARIO, 'create'], {
        ...clientEnv('bob', password('bob')),
        MLFLOW_ARTIFACTS_DESTINATION: `s3://${stack.S3_BUCKET ?? 'mlflow'}/artifacts`,
        MINIO_URL: stack.MINIO_URL!,
        MINIO_ROOT_USER: stack.MINIO_ROOT_USER!,
        MINIO_ROOT_PASSWORD: stack.MINIO_ROOT_PASSWORD!,
      });
      const created = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as {
        run_id?: string;
        loss_history?: number[];
        searched?: { status: string }[];
      };
      expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
      expect(created.loss_history).toEqual([0.9, 0.5, 0.25]);
      expect(created.searched?.[0]?.status).toBe('FINISHED');
    },
    TIMEOUT,
  );

  it(
    'refuses a wrong password (401 with a Basic challenge); the MLflow client reports it',
    async () => {
      const response = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', {
        headers: { authorization: basic('carol', 'not-her-password') },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="mlflow", charset="UTF-8"');

      const result = await runPython(['-c', 'import mlflow; mlflow.search_experiments()'], clientEnv('carol', 'still-not-her-password'));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/401|Unauthorized|UNAUTHENTICATED/);
    },
    TIMEOUT,
  );

  it(
    'throttles repeated failures per user: 429 with Retry-After, without asking Keycloak',
    async () => {
      const user = 'dave';
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        statuses.push(
          (
            await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', {
              headers: { authorization: basic(user, `guess-${attempt}`) },
            })
          ).status,
        );
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401]);
      const grants = await metric('authz_password_grants_total', 'grant="password",result="rejected"');
      const throttled = await metric('authz_basic_throttled_total', 'by="user"');
      // Locked: even the right password waits, and Keycloak is not asked.
      const locked = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', {
        headers: { authorization: basic(user, password(user)) },
      });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await metric('authz_basic_throttled_total', 'by="user"')).toBe(throttled + 1);
      expect(await metric('authz_password_grants_total', 'grant="password",result="rejected"')).toBe(grants);
      // Another user from the same address is not locked by dave's failures (per-address limit is higher).
      expect(
        (
          await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', {
            headers: { authorization: basic('carol', password('carol')) },
          })
        ).status,
      ).toBe(200);
    },
    TIMEOUT,
  );

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
      const result = await runPython(
        [LONG_RUN],
        { ...clientEnv('alice', password('alice')), DURATION_SECONDS: '80', INTERVAL_SECONDS: '2' },
        170_000,
      );
      expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
      const run = JSON.parse(result.stdout.trim().split('\n').pop()!) as { steps: number; seconds: number; history_steps: number[] };
      expect(run.seconds).toBeGreaterThan(LIFESPAN_S + 15);
      expect(run.history_steps).toEqual([...Array(run.steps).keys()]);
      expect(await metric('authz_password_grants_total', 'grant="refresh_token",result="ok"')).toBeGreaterThan(renewed);
      process.stdout.write(`long run: ${run.steps} metrics over ${run.seconds} s with a ${LIFESPAN_S} s access token\n`);
    }, 200_000);
  });

  describe('guessing cannot overrun the limits, and a lockout tells nothing (issue 10 A2)', () => {
    // Two realm users of their own, so that these lockouts touch no other test.
    const users = [uniqueName('e2e-guess').toLowerCase(), uniqueName('e2e-lock').toLowerCase()] as const;
    const secret = `${uniqueName('pw')}-Aa1!`;
    const ids: string[] = [];
    const passwordGrants = async (): Promise<number> => {
      let total = 0;
      for (const result of ['ok', 'rejected', 'error'])
        total += await metric('authz_password_grants_total', `grant="password",result="${result}"`);
      return total;
    };
    beforeAll(async () => {
      for (const user of users) ids.push(await createViewer(user, secret));
    });
    afterAll(async () => {
      for (const id of ids) await adminFetch(`/users/${id}`, { method: 'DELETE' });
    });

    it(
      '200 concurrent wrong guesses make at most maxFailuresPerUser (5) password grants at Keycloak',
      async () => {
        const user = users[0];
        const before = await passwordGrants();
        const answers = await Promise.all(
          Array.from({ length: 200 }, (_, i) => fromAddress('127.0.0.3', SEARCH, basic(user, `wrong-${i}`))),
        );
        const grants = (await passwordGrants()) - before;
        const statuses = new Map<number, number>();
        for (const { status } of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1);
        process.stdout.write(
          `200 concurrent wrong guesses through NGINX: ${grants} password grants at Keycloak; answers ${JSON.stringify(Object.fromEntries(statuses))}\n`,
        );
        expect(grants).toBeGreaterThan(0);
        expect(grants).toBeLessThanOrEqual(5);
        expect(statuses.get(429)).toBe(200 - grants);
        // Each grant answered 401, or 500 where Keycloak did not answer within decision.timeoutMs on a
        // loaded machine (the service's 503; such an attempt costs no budget).
        expect((statuses.get(401) ?? 0) + (statuses.get(500) ?? 0)).toBe(grants);
        // Locked out now (after topping up the failures a timeout did not count): the right password
        // waits like the rest, and Keycloak is not asked.
        for (let i = 0; i < 5 && (await fromAddress('127.0.0.3', SEARCH, basic(user, `more-${i}`))).status !== 429; i++);
        const asked = await passwordGrants();
        expect((await fromAddress('127.0.0.3', SEARCH, basic(user, secret))).status).toBe(429);
        expect(await passwordGrants()).toBe(asked);
      },
      TIMEOUT,
    );

    it(
      'during a lockout the right password gets the same 429 as a wrong one from the attacker’s addresses, while the job that cached it keeps working',
      async () => {
        const user = users[1];
        // The job: its credentials exchanged and cached from 127.0.0.1.
        expect((await fromAddress('127.0.0.1', SEARCH, basic(user, secret))).status).toBe(200);
        // The attacker, from 127.0.0.4, locks the user out.
        const guesses: number[] = [];
        for (let i = 0; i < 5; i++) guesses.push((await fromAddress('127.0.0.4', SEARCH, basic(user, `guess-${i}`))).status);
        expect(guesses).toEqual([401, 401, 401, 401, 401]);
        const before = await passwordGrants();
        // From the attacker's address and from one that never proved the password, right and wrong look alike.
        for (const source of ['127.0.0.4', '127.0.0.5']) {
          const right = await fromAddress(source, SEARCH, basic(user, secret));
          const wrong = await fromAddress(source, SEARCH, basic(user, 'still-wrong'));
          expect({ status: right.status, body: right.body }).toEqual({ status: 429, body: wrong.body });
          expect(wrong.status).toBe(429);
          expect(Number(right.retryAfter)).toBeGreaterThan(0);
          expect(Math.abs(Number(right.retryAfter) - Number(wrong.retryAfter))).toBeLessThanOrEqual(1);
        }
        expect(await passwordGrants()).toBe(before); // none of these reached Keycloak
        // The job's own address still gets its cached exchange.
        expect((await fromAddress('127.0.0.1', SEARCH, basic(user, secret))).status).toBe(200);
      },
      TIMEOUT,
    );
  });
});
