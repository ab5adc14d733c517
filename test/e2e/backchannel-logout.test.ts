/**
 * Back-channel logout and bearer revocation (issue 11, items 4 and 5) with the real Keycloak and
 * NGINX: an admin "sign out" of a user in Keycloak reaches the service (Keycloak posts a logout
 * token per client to /oauth2/backchannel-logout through NGINX), and from then on both that
 * user's browser session and their still-unexpired bearer token are refused through NGINX.
 * Logout tokens that must not count (forged, replayed, addressed to another client) change nothing.
 * A user signing out of one client themselves (the CLI's refresh token at Keycloak's logout endpoint)
 * loses that session's bearer token the same way, and keeps their other sessions.
 *
 * The replayed, wrong-audience and expired tokens are real ones signed by Keycloak: the test captures
 * them by pointing a client's back-channel logout URL at a small recorder for the duration. The
 * expired one is held back, never delivered, until it is past its `exp` (Keycloak: `iat` + 120 s)
 * and `logout.maxTokenAgeSeconds`, plus the clock tolerance: only its age can refuse it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import { sessionCookieFor } from './login-http.js';
import { adminHeaders } from './keycloak-admin.js';
import { type DemoUser, freshToken, passwordGrant, stack, viaNginx } from './stack.js';

// carol reads experiments (viewer); dave has no permission at all, so his requests would be refused before any logout.
const USER: DemoUser = 'carol';
const SEARCH = '/api/2.0/mlflow/experiments/search?max_results=1';
const ENDPOINT = `${stack.MLFLOW_URL}/oauth2/backchannel-logout`;
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const realm = `${stack.KC_URL}/admin/realms/${stack.KC_REALM ?? 'mlflow'}`;
const CLI = stack.MLFLOW_CLI_CLIENT_ID ?? 'mlflow-cli';
/** Keycloak's logout endpoint: a client ends its own session there with its refresh token (RP-initiated, no browser). */
const LOGOUT_URL = stack.KC_TOKEN_URL!.replace(/\/token$/, '/logout');

/** The password grant on the CLI client, as `mlflow` users sign in there: the access and the refresh token. */
async function cliLogin(user: DemoUser): Promise<{ access: string; refresh: string }> {
  const grant = await passwordGrant(user, CLI);
  if (grant.refresh_token === undefined) throw new Error('the CLI client gave no refresh token');
  return { access: grant.access_token, refresh: grant.refresh_token };
}

const bearerStatus = async (token: string) => (await viaNginx('GET', SEARCH, { token, headers: { accept: 'application/json' } })).status;
const cookieStatus = async (cookie: string) => (await viaNginx('GET', SEARCH, { headers: { cookie, accept: 'application/json' } })).status;

/** The status once it is not 5xx (under load Keycloak may be slow to answer the first UMA call: 503 is an outage, not an answer). */
async function settled(probe: () => Promise<number>): Promise<number> {
  for (let i = 0; ; i++) {
    const status = await probe();
    if (status < 500 || i >= 5) return status;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const postLogout = (token: string) =>
  fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  });

/** The service's log files (one per replica). */
const LOGS = [`${stack.STACK_DIR}/logs/nginx-authz.log`, `${stack.STACK_DIR}/logs/nginx-authz2.log`];
const logMarks = (): number[] => LOGS.map((file) => (existsSync(file) ? statSync(file).size : 0));

/** The `reason` of every "back-channel logout refused" line the replicas wrote since `marks` (waits up to 3 s for one). */
async function refusalsSince(marks: number[]): Promise<string[]> {
  for (let waited = 0; ; waited += 50) {
    const reasons = LOGS.flatMap((file, i) =>
      existsSync(file)
        ? readFileSync(file)
            .subarray(marks[i])
            .toString('utf8')
            .split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as { msg?: string; reason?: string })
            .filter((record) => record.msg === 'back-channel logout refused')
            .map((record) => record.reason ?? '')
        : [],
    );
    if (reasons.length > 0 || waited >= 3_000) return reasons;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/** Records the logout tokens Keycloak posts; `forward` also hands them on to the service through NGINX. */
class Recorder {
  tokens: string[] = [];
  private server: Server | undefined;
  constructor(private readonly forward: boolean) {}
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('logout_token') ?? '';
        this.tokens.push(token);
        const answer = this.forward ? postLogout(token).then((r) => r.status) : Promise.resolve(200);
        void answer.then((status) => res.writeHead(status).end());
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/logout`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}

/** Sets a client's back-channel logout URL through the admin API; returns the previous one. */
async function setBackchannelUrl(headers: Record<string, string>, clientId: string, url: string | undefined): Promise<string | undefined> {
  const [client] = (await (await fetch(`${realm}/clients?clientId=${clientId}`, { headers })).json()) as {
    id: string;
    attributes?: Record<string, string>;
  }[];
  const previous = client!.attributes?.['backchannel.logout.url'];
  const attributes = { ...client!.attributes, 'backchannel.logout.url': url ?? '', 'backchannel.logout.session.required': 'true' };
  const put = await fetch(`${realm}/clients/${client!.id}`, { method: 'PUT', headers, body: JSON.stringify({ ...client, attributes }) });
  if (put.status !== 204) throw new Error(`client ${clientId}: ${put.status}`);
  return previous;
}

async function userId(headers: Record<string, string>, user: DemoUser): Promise<string> {
  return ((await (await fetch(`${realm}/users?username=${user}&exact=true`, { headers })).json()) as { id: string }[])[0]!.id;
}

describe('OIDC back-channel logout through NGINX and Keycloak', () => {
  let headers: Record<string, string>;
  const forwarding = new Recorder(true);
  const foreign = new Recorder(false);
  const held = new Recorder(false);
  let restoreCli: string | undefined;
  beforeAll(async () => {
    headers = await adminHeaders();
    // First a genuine logout token for mlflow-cli that is never delivered: sign the user in there and
    // end only that Keycloak session; the recorder keeps the token and answers Keycloak 200.
    restoreCli = await setBackchannelUrl(headers, 'mlflow-cli', await held.start());
    const heldSid = claimsOf(await freshToken(USER)).sid as string;
    expect((await fetch(`${realm}/sessions/${heldSid}`, { method: 'DELETE', headers })).status).toBe(204);
    for (let i = 0; i < 100 && held.tokens.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(held.tokens.length).toBe(1);
    // mlflow-cli's logout tokens go through the recorder (which forwards them) so the test can replay one;
    // admin-cli's (aud=admin-cli, not one of ours) only to the recorder.
    await setBackchannelUrl(headers, 'mlflow-cli', await forwarding.start());
    await setBackchannelUrl(headers, 'admin-cli', await foreign.start());
  }, 60_000);
  afterAll(async () => {
    try {
      headers = await adminHeaders(); // the admin token lives 60 s; the tests take longer
      await setBackchannelUrl(headers, 'mlflow-cli', restoreCli);
      await setBackchannelUrl(headers, 'admin-cli', undefined);
    } finally {
      // Whatever failed above, the recorders close (an open server would keep Jest from exiting).
      await Promise.all([forwarding.stop(), foreign.stop(), held.stop()]);
    }
  }, 60_000);

  it('an admin sign-out refuses the user’s cookie and bearer token through NGINX; a new login works', async () => {
    const cookie = await sessionCookieFor(USER);
    const bearer = await freshToken(USER);
    expect(await settled(() => cookieStatus(cookie))).toBe(200);
    expect(await settled(() => bearerStatus(bearer))).toBe(200);
    expect(await bearerStatus(bearer)).toBe(200); // answered from the caches now: what the logout must purge

    const started = performance.now();
    const signOut = await fetch(`${realm}/users/${await userId(headers, USER)}/logout`, { method: 'POST', headers });
    const adminCallMs = performance.now() - started;
    expect(signOut.status).toBe(204);
    let cookieRefusedMs: number | undefined;
    let bearerRefusedMs: number | undefined;
    while (performance.now() - started < 10_000 && (cookieRefusedMs === undefined || bearerRefusedMs === undefined)) {
      if (cookieRefusedMs === undefined && (await cookieStatus(cookie)) === 401) cookieRefusedMs = performance.now() - started;
      if (bearerRefusedMs === undefined && (await bearerStatus(bearer)) === 401) bearerRefusedMs = performance.now() - started;
    }
    console.log(
      `back-channel logout: admin call answered after ${adminCallMs.toFixed(0)} ms (Keycloak posts the logout tokens within it); ` +
        `cookie refused after ${cookieRefusedMs?.toFixed(0)} ms, bearer token refused after ${bearerRefusedMs?.toFixed(0)} ms`,
    );
    expect(cookieRefusedMs).toBeDefined();
    expect(bearerRefusedMs).toBeDefined();
    // Keycloak calls the service before the admin call returns: refused at the first request after it.
    expect(Math.max(cookieRefusedMs!, bearerRefusedMs!) - adminCallMs).toBeLessThan(1_000);
    // Still refused a while later (not a cache race), and by the service, not for lack of credentials.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await bearerStatus(bearer)).toBe(401);
    expect(await cookieStatus(cookie)).toBe(401);
    // Tokens issued after the logout (a new login) work.
    expect(await settled(async () => bearerStatus(await freshToken(USER)))).toBe(200);
    expect(await settled(async () => cookieStatus(await sessionCookieFor(USER)))).toBe(200);
  }, 120_000);

  it('forged, replayed, wrong-audience and expired logout tokens change nothing', async () => {
    headers = await adminHeaders();
    const genuine = forwarding.tokens.find((token) => token !== '');
    expect(genuine).toBeDefined(); // captured during the sign-out above

    // A Keycloak-signed logout token addressed to another client (admin-cli): sign the user in there, sign them out.
    const otherToken = await freshToken(USER, 'admin-cli');
    expect(otherToken).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the new login's tokens postdate the last logout
    const bearer2 = await freshToken(USER);
    const cookie2 = await sessionCookieFor(USER);
    expect(await settled(() => bearerStatus(bearer2))).toBe(200);
    expect(await settled(() => cookieStatus(cookie2))).toBe(200);

    const signOutOther = await fetch(`${realm}/users/${await userId(headers, USER)}/sessions`, { headers });
    const sessions = (await signOutOther.json()) as { id: string; clients: Record<string, string> }[];
    const adminCliSession = sessions.find((session) => Object.values(session.clients).includes('admin-cli'));
    expect(adminCliSession).toBeDefined();
    // Ending only that session makes Keycloak post its logout token (aud=admin-cli) to the recorder.
    expect((await fetch(`${realm}/sessions/${adminCliSession!.id}`, { method: 'DELETE', headers })).status).toBe(204);
    const wrongAudience = foreign.tokens.find((token) => token !== '');
    expect(wrongAudience).toBeDefined();

    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const claims = JSON.parse(Buffer.from(genuine!.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const kid = (JSON.parse(Buffer.from(genuine!.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
    const forge = (extra: Record<string, unknown>) =>
      new SignJWT({ ...claims, jti: `forged-${Math.random()}`, iat: now, events: { [EVENT]: {} }, ...extra })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'logout+jwt' })
        .sign(privateKey);
    const bad = {
      forged: await forge({}),
      'forged and expired': await forge({ iat: now - 3_600, exp: now - 3_000 }),
      replayed: genuine!,
      'wrong audience': wrongAudience!,
    };
    for (const [what, token] of Object.entries(bad)) {
      const response = await postLogout(token);
      expect([what, response.status, await response.json()]).toEqual([what, 400, { error: 'invalid_request' }]);
    }

    // The held-back genuine token: right signature, issuer, audience and claims, never used; only too old now.
    const expired = held.tokens[0]!;
    const { iat, exp } = claimsOf(expired) as { iat: number; exp?: number };
    const toleranceSeconds = 30; // the stack's issuer.clockToleranceSeconds (the default)
    const tooOldAtMs = (Math.max(exp ?? 0, iat + 120) + toleranceSeconds + 1) * 1000; // exp, and logout.maxTokenAgeSeconds (120)
    console.log(`expired logout token: waiting ${Math.max(0, Math.round((tooOldAtMs - Date.now()) / 1000))} s for it to age`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, tooOldAtMs - Date.now())));
    const marks = logMarks();
    const response = await postLogout(expired);
    expect([response.status, await response.json()]).toEqual([400, { error: 'invalid_request' }]);
    expect(await refusalsSince(marks)).toEqual([expect.stringContaining('ERR_JWT_EXPIRED')]);
    // The user's requests still succeed.
    expect(await bearerStatus(bearer2)).toBe(200);
    expect(await cookieStatus(cookie2)).toBe(200);
  }, 300_000);

  it('a user signing out of the CLI client (its refresh token at Keycloak’s logout endpoint) loses that bearer token through NGINX within 1 s; their other sessions go on', async () => {
    const cli = await cliLogin(USER);
    const other = await freshToken(USER); // another Keycloak session of the same user
    const cookie = await sessionCookieFor(USER);
    expect(await settled(() => bearerStatus(cli.access))).toBe(200);
    expect(await bearerStatus(cli.access)).toBe(200); // answered from the caches now: what the logout must purge
    expect(await settled(() => bearerStatus(other))).toBe(200);
    expect(await settled(() => cookieStatus(cookie))).toBe(200);
    const delivered = forwarding.tokens.length;

    const started = performance.now();
    const signOut = await fetch(LOGOUT_URL, { method: 'POST', body: new URLSearchParams({ client_id: CLI, refresh_token: cli.refresh }) });
    const logoutCallMs = performance.now() - started;
    expect(signOut.status).toBe(204);
    let refusedMs: number | undefined;
    while (refusedMs === undefined && performance.now() - started < 10_000) {
      if ((await bearerStatus(cli.access)) === 401) refusedMs = performance.now() - started;
    }
    console.log(
      `CLI sign-out: Keycloak's logout endpoint answered after ${logoutCallMs.toFixed(0)} ms; ` +
        `that session's bearer token refused through NGINX after ${refusedMs?.toFixed(0)} ms`,
    );
    expect(refusedMs).toBeDefined();
    expect(refusedMs! - logoutCallMs).toBeLessThan(1_000);
    // Keycloak told the service (through the recorder) about exactly that session.
    const told = forwarding.tokens.slice(delivered).map((token) => claimsOf(token));
    expect(told).toEqual([expect.objectContaining({ sid: claimsOf(cli.access).sid, aud: CLI })]);
    // Still refused a while later (not a cache race) ...
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await bearerStatus(cli.access)).toBe(401);
    // ... while the user's other Keycloak sessions, bearer and browser, were not signed out.
    expect(await settled(() => bearerStatus(other))).toBe(200);
    expect(await settled(() => cookieStatus(cookie))).toBe(200);
  }, 120_000);
});
