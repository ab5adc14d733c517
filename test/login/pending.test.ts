/**
 * PendingLoginCookie on its own (the login flow through it is in endpoints.test.ts). Found unguarded by
 * the mutation run of src/login/pending.ts (docs/mutation.md): which cookies count as pending logins
 * (a fifth login expires only those, never the session cookie or the site's own cookies), and the
 * login cookie's key, which must stay the same across replicas and releases.
 */
import { hkdfSync } from 'node:crypto';
import { EncryptJWT } from 'jose';
import { PendingLoginCookie } from '../../src/login/pending.js';

const SECRET = 'a-development-secret-of-at-least-32-chars';
const NOW = Date.UTC(2026, 0, 1);
const PENDING = { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/x', redirectUri: 'https://mlflow.example.com/oauth2/callback' };

describe('PendingLoginCookie', () => {
  it('names only the pending-login cookies of a Cookie header', () => {
    expect(PendingLoginCookie.namesIn(undefined)).toEqual([]);
    expect(PendingLoginCookie.namesIn('')).toEqual([]);
    const a = PendingLoginCookie.nameFor('a');
    const b = PendingLoginCookie.nameFor('b');
    expect(PendingLoginCookie.namesIn(`nginx_authz_session=x; ${a}=1; mlflow=2;${b}=3`)).toEqual([a, b]);
  });

  it('opens a pending login sealed elsewhere with the documented key (purpose "nginx-authz-login")', async () => {
    const key = new Uint8Array(hkdfSync('sha256', Buffer.from(SECRET, 'utf8'), 'nginx-authz cookie', 'nginx-authz-login', 32));
    const value = await new EncryptJWT({ ...PENDING })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'nginx-authz-login' })
      .setIssuedAt(Math.floor(NOW / 1000))
      .setExpirationTime(Math.floor(NOW / 1000) + 600)
      .encrypt(key);
    expect(await new PendingLoginCookie(SECRET, 600_000, () => NOW).open(value)).toEqual(PENDING);
  });
});
