/**
 * Sessions per subject (issue 10 A6), with real Keycloak logins through NGINX: the cap keys on the
 * subject of Keycloak's real ID token, so one user's repeated logins end only that user's oldest
 * sessions and never another user's.
 */
import { sessionCookieFor } from './login-http.js';
import { viaNginx } from './stack.js';

const SEARCH = '/api/2.0/mlflow/experiments/search?max_results=1';
const status = async (cookie: string): Promise<number> =>
  (await viaNginx('GET', SEARCH, { headers: { cookie, accept: 'application/json' } })).status;

describe('sessions per subject through NGINX and Keycloak (session.maxPerSubject, 20 in the stack)', () => {
  it('21 logins by one user end only that user’s oldest session; another user’s session stays', async () => {
    const carol = await sessionCookieFor('carol');
    const bob: string[] = [];
    for (let i = 0; i < 21; i++) bob.push(await sessionCookieFor('bob'));
    expect(await status(bob[0]!)).toBe(401); // the oldest of bob's 21 ended
    expect(await status(bob[1]!)).toBe(200);
    expect(await status(bob[20]!)).toBe(200);
    expect(await status(carol)).toBe(200);
  }, 120_000);
});
