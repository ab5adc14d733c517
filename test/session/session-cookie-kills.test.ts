/**
 * The session cookie's wire format (src/session/session-cookie.ts), found unguarded by its own tests
 * in mutation round 5 (docs/mutation.md): values are sealed here independently, with the documented
 * key derivation (HKDF-SHA256 of the secret, salt "nginx-authz cookie", info = the purpose
 * "nginx-authz-session"), so a changed purpose fails, and so can values our own code never seals:
 * only a string `sid` with a numeric `exp` is a session.
 */
import { hkdfSync } from 'node:crypto';
import { EncryptJWT, type JWTPayload } from 'jose';
import { SessionCookie } from '../../src/session/session-cookie.js';

const SECRET = 'a-development-secret-of-at-least-32-chars';
const NOW = Date.UTC(2026, 0, 1);

/** A value sealed under `purpose` with the documented parameters; `exp` only when given. */
function sealed(purpose: string, claims: JWTPayload, expSeconds?: number): Promise<string> {
  const key = new Uint8Array(hkdfSync('sha256', Buffer.from(SECRET, 'utf8'), 'nginx-authz cookie', purpose, 32));
  const jwt = new EncryptJWT(claims).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: purpose });
  return (expSeconds === undefined ? jwt : jwt.setExpirationTime(expSeconds)).encrypt(key);
}
const cookie = () => new SessionCookie(SECRET, 10, () => NOW);
const inAMinute = Math.floor(NOW / 1000) + 60;

describe('SessionCookie: what opens as a session', () => {
  it('a value sealed under the purpose "nginx-authz-session" (another release or replica sealed it)', async () => {
    expect(await cookie().sessionId(await sealed('nginx-authz-session', { sid: 'session-1' }, inAMinute))).toBe('session-1');
    expect(await cookie().sessionId(await sealed('nginx-authz-login', { sid: 'session-1' }, inAMinute))).toBeUndefined();
  });

  it('only with a string sid and a numeric expiry, also when asked again', async () => {
    for (const value of [
      await sealed('nginx-authz-session', { sid: 42 }, inAMinute),
      await sealed('nginx-authz-session', { sid: 'no-expiry' }),
      await sealed('nginx-authz-session', {}, inAMinute),
    ]) {
      const reader = cookie();
      expect(await reader.sessionId(value)).toBeUndefined();
      expect(await reader.sessionId(value)).toBeUndefined();
    }
  });
});
