/**
 * passwordGrants (src/basic/grants.ts) against a token endpoint on 127.0.0.1: which client
 * authenticates, what the password and refresh grants send, the plain-http opt-in, the timeout,
 * and the 503 before discovery. Written for the mutation run of src/basic/ (docs/mutation.md),
 * which found no unit test reaching this file.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { passwordGrants } from '../../src/basic/grants.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { IdpUnavailable } from '../../src/errors.js';
import type { IdentityProvider } from '../../src/idp/provider.js';

interface Seen {
  path: string;
  form: URLSearchParams;
  authorization: string | undefined;
}

let server: Server;
let base = '';
const seen: Seen[] = [];
/** How long the token endpoint waits before answering (ms). */
let delayMs = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      seen.push({ path: req.url ?? '', form, authorization: req.headers.authorization });
      const reply = () => {
        res.setHeader('content-type', 'application/json');
        if (form.get('password') === 'wrong') {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: 'invalid_grant' }));
          return;
        }
        res.end(
          JSON.stringify({ access_token: `at-${req.url}-${seen.length}`, token_type: 'Bearer', expires_in: 120, refresh_token: 'rt-2' }),
        );
      };
      if (delayMs > 0) setTimeout(reply, delayMs).unref();
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
  delayMs = 0;
});

const loaded = loadConfig({
  AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
  AUTHZ_CLIENT_ID: 'nginx-authz',
  AUTHZ_BASIC_ENABLED: 'true',
});
function configWith(basic: Partial<Config['basic']>, issuerUrl = 'http://127.0.0.1:1/realms/x', timeoutMs = 3_000): Config {
  return {
    ...loaded,
    issuer: { ...loaded.issuer, url: issuerUrl },
    decision: { ...loaded.decision, timeoutMs },
    basic: { ...loaded.basic, ...basic },
  };
}
/** Discovered metadata as IdentityProvider holds it; `tokenPath` tells two discoveries apart. */
const discovered = (tokenPath = '/token'): oidc.Configuration =>
  new oidc.Configuration({ issuer: `${base}/realms/x`, token_endpoint: `${base}${tokenPath}` }, 'nginx-authz');
const providerOf = (configuration: oidc.Configuration | undefined) => ({ configuration }) as unknown as IdentityProvider;
const clock = () => 1_000_000;

describe('passwordGrants', () => {
  it('sends the password grant with basic.clientId, its secret in the body, and basic.scope', async () => {
    const grants = passwordGrants(
      configWith({ clientId: 'mlflow-cli', clientSecret: 's3cret', scope: 'openid profile' }),
      providerOf(discovered()),
      clock,
    );
    await expect(grants.password('bob', 'pw')).resolves.toEqual({
      accessToken: 'at-/token-1',
      accessExpiresAtMs: 1_120_000,
      refreshToken: 'rt-2',
      idToken: undefined,
    });
    expect(seen).toHaveLength(1);
    const { form, authorization } = seen[0]!;
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'password',
      username: 'bob',
      password: 'pw',
      scope: 'openid profile',
      client_id: 'mlflow-cli',
      client_secret: 's3cret',
    });
    expect(authorization).toBeUndefined();
  });

  it('a public client (no secret) sends its id and no secret', async () => {
    const grants = passwordGrants(configWith({ clientId: 'mlflow-cli', clientSecret: undefined }), providerOf(discovered()), clock);
    await grants.password('bob', 'pw');
    expect(seen[0]!.form.get('client_id')).toBe('mlflow-cli');
    expect(seen[0]!.form.has('client_secret')).toBe(false);
    expect(seen[0]!.authorization).toBeUndefined();
  });

  it('a wrong password is a refusal, not an outage', async () => {
    const grants = passwordGrants(configWith({}), providerOf(discovered()), clock);
    await expect(grants.password('bob', 'wrong')).resolves.toEqual({ refused: 'invalid_grant' });
  });

  it('sends the refresh grant with the refresh token', async () => {
    const grants = passwordGrants(configWith({ clientId: 'mlflow-cli', clientSecret: undefined }), providerOf(discovered()), clock);
    await expect(grants.refresh('rt-1')).resolves.toMatchObject({ accessToken: 'at-/token-1', refreshToken: 'rt-2' });
    expect(Object.fromEntries(seen[0]!.form)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: 'mlflow-cli' });
  });

  it('before the issuer metadata is loaded: 503 for both grants, nothing sent', async () => {
    const grants = passwordGrants(configWith({}), providerOf(undefined), clock);
    for (const [call, what] of [
      [() => grants.password('bob', 'pw'), 'password grant'],
      [() => grants.refresh('rt-1'), 'refresh grant'],
    ] as const) {
      const error = await call().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(IdpUnavailable);
      expect((error as IdpUnavailable).detail).toBe(`${what}: authorization server unavailable`);
      expect(((error as IdpUnavailable).cause as IdpUnavailable).detail).toBe('issuer metadata not loaded yet');
    }
    expect(seen).toHaveLength(0);
  });

  it('follows a new discovery (the provider re-discovered the issuer): the next grant uses its endpoint', async () => {
    const provider = { configuration: discovered('/token') };
    const grants = passwordGrants(configWith({}), provider as unknown as IdentityProvider, clock);
    await grants.password('bob', 'pw');
    await grants.password('bob', 'pw');
    provider.configuration = discovered('/token-2');
    await grants.password('bob', 'pw');
    expect(seen.map((each) => each.path)).toEqual(['/token', '/token', '/token-2']);
  });

  it('plain http only when the issuer itself is configured as http', async () => {
    const grants = passwordGrants(configWith({}, 'https://idp.example/realms/x'), providerOf(discovered()), clock);
    const outcome = await grants.password('bob', 'pw').catch((error: unknown) => error);
    expect(outcome).not.toHaveProperty('accessToken');
    expect(seen).toHaveLength(0);
  });

  it('gives up after decision.timeoutMs (rounded up to seconds): 503, not a refusal', async () => {
    delayMs = 4_000;
    const grants = passwordGrants(configWith({}, undefined, 1_000), providerOf(discovered()), clock);
    const started = Date.now();
    const error = await grants.password('bob', 'pw').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as IdpUnavailable).detail).toBe('password grant: timed out');
    expect(Date.now() - started).toBeLessThan(3_500);
  }, 15_000);
});
