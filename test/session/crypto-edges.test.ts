/**
 * The cookie key derivation is a wire format: a cookie sealed by another replica, or by the release
 * before an upgrade, must still open. These tests build the key independently from the documented
 * parameters (HKDF-SHA256, salt "nginx-authz cookie", info = the purpose, 32 bytes) and seal with jose
 * directly, so a change to the salt or to a cookie kind's purpose fails here. Found by the mutation run
 * of src/session/crypto.ts and src/session/session-cookie.ts (docs/mutation.md): a salt or a purpose
 * changed on both sides at once was invisible to tests that seal and open in the same process.
 */
import { hkdfSync } from 'node:crypto';
import { EncryptJWT } from 'jose';
import { CookieSealer } from '../../src/session/crypto.js';
import { SessionCookie } from '../../src/session/session-cookie.js';

const SECRET = 'a-development-secret-of-at-least-32-chars';
const NOW = Date.UTC(2026, 0, 1);

/** A value sealed the way the previous release (or another replica) seals it. */
async function sealedElsewhere(purpose: string, claims: Record<string, unknown>, expiresAtMs: number): Promise<string> {
  const key = new Uint8Array(hkdfSync('sha256', Buffer.from(SECRET, 'utf8'), 'nginx-authz cookie', purpose, 32));
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: purpose })
    .setIssuedAt(Math.floor(NOW / 1000))
    .setExpirationTime(Math.floor(expiresAtMs / 1000))
    .encrypt(key);
}

describe('cookie key derivation (stable across replicas and releases)', () => {
  it('opens a value sealed with the documented HKDF parameters, and only for its own purpose', async () => {
    const value = await sealedElsewhere('p', { x: 1 }, NOW + 60_000);
    expect(await new CookieSealer(SECRET, 'p').open(value, NOW)).toMatchObject({ x: 1 });
    expect(await new CookieSealer(SECRET, 'q').open(value, NOW)).toBeUndefined();
  });

  it('reads a session cookie sealed under the purpose "nginx-authz-session"', async () => {
    const value = await sealedElsewhere('nginx-authz-session', { sid: 'session-1' }, NOW + 60_000);
    expect(await new SessionCookie(SECRET, 10, () => NOW).sessionId(value)).toBe('session-1');
    // The login cookie's purpose is another key: such a value is no session.
    const login = await sealedElsewhere('nginx-authz-login', { sid: 'session-1' }, NOW + 60_000);
    expect(await new SessionCookie(SECRET, 10, () => NOW).sessionId(login)).toBeUndefined();
  });
});
