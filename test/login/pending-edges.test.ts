/**
 * The edges of PendingLoginCookie (test/login/pending.test.ts has its cookie names and key): how long a
 * pending login stays readable, the cookie name derived from `state`, and that a pending login missing any
 * of state, nonce, PKCE verifier, return target or redirect URI is no pending login at all (the callback
 * must never run a code exchange without its state, nonce and verifier). Found unguarded by the mutation
 * queue of round 5 (docs/mutation.md).
 */
import { createHash, hkdfSync } from 'node:crypto';
import { EncryptJWT } from 'jose';
import { type PendingLogin, PendingLoginCookie } from '../../src/login/pending.js';

const SECRET = 'a-development-secret-of-at-least-32-chars';
const NOW = Date.UTC(2026, 0, 1);
const TTL_MS = 600_000;
const PENDING: PendingLogin = {
  state: 'st',
  nonce: 'no',
  codeVerifier: 'cv',
  returnTo: '/x',
  redirectUri: 'https://mlflow.example.com/oauth2/callback',
};

/** Seals `claims` as another replica would (the documented key), readable until `expSeconds`. */
async function sealedElsewhere(claims: Record<string, unknown>, expSeconds = Math.floor(NOW / 1000) + 600): Promise<string> {
  const key = new Uint8Array(hkdfSync('sha256', Buffer.from(SECRET, 'utf8'), 'nginx-authz cookie', 'nginx-authz-login', 32));
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'nginx-authz-login' })
    .setIssuedAt(Math.floor(NOW / 1000))
    .setExpirationTime(expSeconds)
    .encrypt(key);
}

describe('PendingLoginCookie lifetime', () => {
  it('stays readable until stateTtl after sealing, not after', async () => {
    let now = NOW;
    const cookie = new PendingLoginCookie(SECRET, TTL_MS, () => now);
    const value = await cookie.seal(PENDING);
    now = NOW + TTL_MS - 1000;
    expect(await cookie.open(value)).toEqual(PENDING);
    now = NOW + TTL_MS + 1000;
    expect(await cookie.open(value)).toBeUndefined();
  });

  it('reads nothing from no cookie, or from a value that is not ours', async () => {
    const cookie = new PendingLoginCookie(SECRET, TTL_MS, () => NOW);
    expect(await cookie.open(undefined)).toBeUndefined();
    expect(await cookie.open('not-a-jwe')).toBeUndefined();
    expect(
      await new PendingLoginCookie('another-secret-of-at-least-32-characters', TTL_MS, () => NOW).open(await cookie.seal(PENDING)),
    ).toBeUndefined();
  });
});

describe('PendingLoginCookie.nameFor', () => {
  it('is the prefix and the first 16 characters of the state’s SHA-256 (base64url), never the state itself', () => {
    const state = 'a-state-value-that-is-long-enough';
    const digest = createHash('sha256').update(state).digest('base64url');
    expect(PendingLoginCookie.nameFor(state)).toBe(`nginx_authz_login_${digest.slice(0, 16)}`);
    expect(PendingLoginCookie.nameFor(state)).not.toContain(state);
    expect(PendingLoginCookie.nameFor('other')).not.toBe(PendingLoginCookie.nameFor(state));
  });
});

describe('PendingLoginCookie.open: every field or nothing', () => {
  const cookie = new PendingLoginCookie(SECRET, TTL_MS, () => NOW);

  it('opens a complete pending login, and only its five fields', async () => {
    expect(await cookie.open(await sealedElsewhere({ ...PENDING, extra: 'x' }))).toEqual(PENDING);
  });

  it.each(Object.keys(PENDING))('refuses a pending login without %s', async (field) => {
    const claims: Record<string, unknown> = { ...PENDING };
    delete claims[field];
    expect(await cookie.open(await sealedElsewhere(claims))).toBeUndefined();
  });

  it.each(Object.keys(PENDING))('refuses a pending login whose %s is not a string', async (field) => {
    expect(await cookie.open(await sealedElsewhere({ ...PENDING, [field]: 7 }))).toBeUndefined();
  });
});
