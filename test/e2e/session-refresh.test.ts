/**
 * Session refresh against the real Keycloak (issue #5), whose realm rotates refresh tokens
 * (`revokeRefreshToken`, `refreshTokenMaxReuse: 0`): a refresh token spent twice is refused
 * and Keycloak then ends the login. Two concurrent requests at refresh time must therefore
 * both succeed on ONE refresh (single flight per session); a refresh Keycloak refuses ends
 * the session cleanly (401, the browser is sent to login again).
 */
import { logoutUser, setClientAttribute } from './keycloak-admin.js';
import { metric, sessionCookieFor } from './login-http.js';
import { password, stack, viaNginx } from './stack.js';

// Browser sessions' tokens live 40 s; the service refreshes them 30 s before expiry
// (session.refreshBeforeSeconds), so a refresh is due 10 s after login.
const LIFESPAN_S = 40;
const REFRESH_DUE_MS = (LIFESPAN_S - 30 + 2) * 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const search = (cookie: string) => viaNginx('GET', '/ajax-api/2.0/mlflow/experiments/search?max_results=1', { headers: { cookie } });

describe('browser session refresh (real Keycloak with refresh-token rotation)', () => {
  let restore: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    restore = await setClientAttribute('nginx-authz', 'access.token.lifespan', String(LIFESPAN_S));
  });
  afterAll(async () => {
    await restore?.();
  });

  it('(control) the realm refuses a refresh token spent twice: a double spend would end the login', async () => {
    const grant = (body: Record<string, string>) =>
      fetch(stack.KC_TOKEN_URL!, { method: 'POST', body: new URLSearchParams({ client_id: 'mlflow-cli', ...body }) });
    const login = (await (await grant({ grant_type: 'password', username: 'carol', password: password('carol') })).json()) as {
      refresh_token: string;
    };
    expect((await grant({ grant_type: 'refresh_token', refresh_token: login.refresh_token })).status).toBe(200);
    const reused = await grant({ grant_type: 'refresh_token', refresh_token: login.refresh_token });
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as { error: string }).error).toBe('invalid_grant');
  }, 30_000);

  it('spends one refresh token for two concurrent requests at refresh time; both are allowed', async () => {
    const cookie = await sessionCookieFor('carol');
    expect((await search(cookie)).status).toBe(200);
    await sleep(REFRESH_DUE_MS);

    const before = await metric('authz_session_refreshes_total', 'result="ok"');
    const rejectedBefore = await metric('authz_session_refreshes_total', 'result="rejected"');
    const [first, second] = await Promise.all([search(cookie), search(cookie)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await metric('authz_session_refreshes_total', 'result="ok"')).toBe(before + 1);
    expect(await metric('authz_session_refreshes_total', 'result="rejected"')).toBe(rejectedBefore);

    // The refreshed token serves the next requests without another refresh.
    expect((await search(cookie)).status).toBe(200);
    expect(await metric('authz_session_refreshes_total', 'result="ok"')).toBe(before + 1);
  }, 120_000);

  it('ends the session when Keycloak refuses the refresh (the user was signed out at the IdP, no back-channel event)', async () => {
    // With the realm's back-channel logout URL the sign-out would end the session at once (test/e2e/backchannel-logout.test.ts);
    // this test is about the refresh refusal, the path left when no event arrives (a lost post, a client without the URL).
    const restoreBackchannel = await setClientAttribute('nginx-authz', 'backchannel.logout.url', '');
    try {
      const cookie = await sessionCookieFor('bob');
      expect((await search(cookie)).status).toBe(200);
      await logoutUser('bob');
      await sleep(REFRESH_DUE_MS);

      const rejected = await metric('authz_session_refreshes_total', 'result="rejected"');
      expect((await search(cookie)).status).toBe(401);
      expect(await metric('authz_session_refreshes_total', 'result="rejected"')).toBe(rejected + 1);
      // Ended here for good: no second refresh attempt, and a browser navigation goes to login.
      expect((await search(cookie)).status).toBe(401);
      expect(await metric('authz_session_refreshes_total', 'result="rejected"')).toBe(rejected + 1);
      const navigation = await viaNginx('GET', '/', { headers: { cookie, accept: 'text/html' } });
      expect(navigation.status).toBe(302);
    } finally {
      await restoreBackchannel();
    }
  }, 120_000);
});
