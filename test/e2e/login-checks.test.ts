/**
 * The login's checks against the real Keycloak, through the stack's NGINX, HTTP only (login-http.ts):
 * a forged state, a PKCE verifier that does not match the challenge Keycloak saw, a replayed code
 * and an ID token with another nonce each end without a session. "No token was issued" is proven
 * from outside the service: after a forged state the code is still unspent (the real callback then
 * completes the login, which a spent code could not); after a PKCE mismatch or a replay the service
 * logs Keycloak's own refusal (`invalid_grant`), i.e. Keycloak issued nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { PendingLoginCookie } from '../../src/login/pending.js';
import { cookieHeader, finishLogin, signInAtKeycloak, startLogin } from './login-http.js';
import { stack, viaNginx } from './stack.js';

const SERVICE_LOG = `${stack.STACK_DIR}/logs/nginx-authz.log`;
const mark = (): number => statSync(SERVICE_LOG).size;

/** The `oauth_error` of every "login: refused" line the service wrote since `from`. */
function refusalsSince(from: number): string[] {
  return readFileSync(SERVICE_LOG)
    .subarray(from)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; oauth_error?: string })
    .filter((record) => record.msg === 'login: refused')
    .map((record) => record.oauth_error ?? '');
}

/**
 * The refusals logged since `from`, once at least one is there: the service's log is written
 * asynchronously, so the line may land a moment after the answer (at most 3 s waited).
 */
async function loggedRefusals(from: number): Promise<string[]> {
  for (let waited = 0; ; waited += 50) {
    const refusals = refusalsSince(from);
    if (refusals.length > 0 || waited >= 3_000) return refusals;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** NGINX lets the session cookie read MLflow. */
const readsMlflow = async (cookie: string): Promise<number> =>
  (await viaNginx('GET', '/ajax-api/2.0/mlflow/experiments/search?max_results=1', { headers: { cookie } })).status;

describe('login checks against the real Keycloak (HTTP-level login through NGINX)', () => {
  it('refuses a forged state before any token request: the code stays unspent and the real callback still logs in', async () => {
    const login = await startLogin();
    const callbackUrl = await signInAtKeycloak(login.authorizationUrl, 'carol');
    const forgedState = randomBytes(32).toString('base64url');
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', forgedState);
    // No pending login for that state at all, then the real pending login renamed to it (the state sealed inside differs).
    expect(await finishLogin(forged.href, cookieHeader(login.site))).toEqual({ status: 400, session: undefined });
    const sealed = login.site.get(PendingLoginCookie.nameFor(login.state))!;
    expect(await finishLogin(forged.href, `${PendingLoginCookie.nameFor(forgedState)}=${sealed}`)).toEqual({
      status: 401,
      session: undefined,
    });

    const real = await finishLogin(callbackUrl, cookieHeader(login.site));
    expect(real.status).toBe(302);
    expect(await readsMlflow(real.session!)).toBe(200);
  }, 30_000);

  it('refuses a login whose PKCE challenge was changed on the way to Keycloak: Keycloak refuses the verifier, no session', async () => {
    const login = await startLogin();
    const tampered = new URL(login.authorizationUrl);
    tampered.searchParams.set('code_challenge', createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'));
    const callbackUrl = await signInAtKeycloak(tampered.href, 'carol');
    const from = mark();
    expect(await finishLogin(callbackUrl, cookieHeader(login.site))).toEqual({ status: 401, session: undefined });
    expect(await loggedRefusals(from)).toContain('invalid_grant');
  }, 30_000);

  it("refuses a code issued to another login (injected into this browser's callback): its verifier does not match, no session", async () => {
    const attacker = await startLogin();
    // The attacker's own callback (code, iss, session_state) with the victim's state.
    const injected = new URL(await signInAtKeycloak(attacker.authorizationUrl, 'dave'));
    const victim = await startLogin();
    injected.searchParams.set('state', victim.state);
    const from = mark();
    expect(await finishLogin(injected.href, cookieHeader(victim.site))).toEqual({ status: 401, session: undefined });
    expect(await loggedRefusals(from)).toContain('invalid_grant');
  }, 30_000);

  it('refuses a replayed code (callback URL and pending cookie captured and sent again): no second session', async () => {
    const login = await startLogin();
    const callbackUrl = await signInAtKeycloak(login.authorizationUrl, 'carol');
    const first = await finishLogin(callbackUrl, cookieHeader(login.site));
    expect(first.status).toBe(302);
    expect(first.session).toBeDefined();
    const from = mark();
    expect(await finishLogin(callbackUrl, cookieHeader(login.site))).toEqual({ status: 401, session: undefined });
    expect(await loggedRefusals(from)).toContain('invalid_grant');
  }, 30_000);

  it('refuses an ID token carrying another nonce (changed on the way to Keycloak): no session', async () => {
    const login = await startLogin();
    const tampered = new URL(login.authorizationUrl);
    tampered.searchParams.set('nonce', randomBytes(32).toString('base64url'));
    const callbackUrl = await signInAtKeycloak(tampered.href, 'carol');
    const from = mark();
    expect(await finishLogin(callbackUrl, cookieHeader(login.site))).toEqual({ status: 401, session: undefined });
    // Keycloak did issue tokens here; the service refused them on its own check of the ID token.
    const refusals = await loggedRefusals(from);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).not.toBe('invalid_grant');
  }, 30_000);
});
