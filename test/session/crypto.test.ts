import { CookieSealer } from '../../src/session/crypto.js';

const SECRET = 'a-development-secret-of-at-least-32-chars';
const NOW = Date.UTC(2026, 0, 1);

describe('CookieSealer (JWE dir + A256GCM, HKDF key per purpose)', () => {
  it('opens what it sealed, until it expires', async () => {
    const sealer = new CookieSealer(SECRET, 'nginx-authz-session');
    const value = await sealer.seal({ sid: 'abc' }, NOW + 60_000);
    expect(value.split('.')).toHaveLength(5); // compact JWE
    expect(value).not.toContain('abc');
    expect(await sealer.open(value, NOW)).toMatchObject({ sid: 'abc' });
    expect(await sealer.open(value, NOW + 61_000)).toBeUndefined();
  });

  it('refuses a tampered value, another secret, and another purpose', async () => {
    const sealer = new CookieSealer(SECRET, 'nginx-authz-session');
    const value = await sealer.seal({ sid: 'abc' }, NOW + 60_000);
    const parts = value.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0] ^= 1;
    parts[3] = ciphertext.toString('base64url');
    expect(await sealer.open(parts.join('.'), NOW)).toBeUndefined();
    expect(await new CookieSealer(`${SECRET}-other`, 'nginx-authz-session').open(value, NOW)).toBeUndefined();
    expect(await new CookieSealer(SECRET, 'nginx-authz-login').open(value, NOW)).toBeUndefined();
    expect(await sealer.open('not-a-jwe', NOW)).toBeUndefined();
  });

  it('shares cookies between instances with one secret, never with a random per-process key', async () => {
    const value = await new CookieSealer(SECRET, 'p').seal({ x: 1 }, NOW + 1000);
    expect(await new CookieSealer(SECRET, 'p').open(value, NOW)).toMatchObject({ x: 1 });
    const random = await new CookieSealer(undefined, 'p').seal({ x: 1 }, NOW + 1000);
    expect(await new CookieSealer(undefined, 'p').open(random, NOW)).toBeUndefined();
  });
});
