import { AtRestSealer } from '../../src/session/at-rest.js';

describe('AtRestSealer (AES-256-GCM, HKDF key, Redis key name as AAD)', () => {
  const sealer = new AtRestSealer('a'.repeat(40));

  it('round-trips, and the sealed value shows nothing of the plaintext', () => {
    const sealed = sealer.seal('{"t":"SECRET-TOKEN"}', 'p:s:1');
    expect(sealed.startsWith('v1.')).toBe(true);
    expect(sealed).not.toContain('SECRET');
    expect(sealer.seal('{"t":"SECRET-TOKEN"}', 'p:s:1')).not.toBe(sealed); // a fresh IV each time
    expect(sealer.open(sealed, 'p:s:1')).toBe('{"t":"SECRET-TOKEN"}');
  });

  it('refuses another key name, another secret, a tampered or malformed value', () => {
    const sealed = sealer.seal('x', 'p:s:1');
    expect(sealer.open(sealed, 'p:s:2')).toBeUndefined();
    expect(new AtRestSealer('b'.repeat(40)).open(sealed, 'p:s:1')).toBeUndefined();
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    expect(sealer.open(`v1.${raw.toString('base64url')}`, 'p:s:1')).toBeUndefined();
    expect(sealer.open('v1.', 'p:s:1')).toBeUndefined();
    expect(sealer.open('{"t":1}', 'p:s:1')).toBeUndefined();
  });
});
