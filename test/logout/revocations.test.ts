import { Revocations } from '../../src/logout/revocations.js';

const ISS = 'https://idp.example.test/realms/r';
let now = 1_000_000_000;
const clock = () => now;
const token = (sub: string, sid: string | undefined, issuedAtMs: number | undefined, iss = ISS) => ({ iss, sub, sid, issuedAtMs });

describe('Revocations', () => {
  it('refuses tokens of a revoked subject issued at or before the logout, accepts newer ones', () => {
    const revocations = new Revocations(3_600_000, 100, clock);
    const before = token('alice', 's1', now - 60_000);
    expect(revocations.refuses(before)).toBe(false);
    revocations.record({ issuer: ISS, sub: 'alice' });
    expect(revocations.refuses(before)).toBe(true);
    expect(revocations.refuses(token('alice', 's2', now))).toBe(true);
    expect(revocations.refuses(token('alice', undefined, undefined))).toBe(true); // no iat: refused
    expect(revocations.refuses(token('alice', 's3', now + 1_000))).toBe(false); // a new login
    expect(revocations.refuses(token('bob', 's1', now - 60_000))).toBe(false);
    expect(revocations.refuses(token('alice', 's1', now - 60_000, 'https://other.example.test'))).toBe(false);
  });

  it('a sid logout refuses that session’s tokens, and the subject’s tokens without a sid; not its other sessions', () => {
    const revocations = new Revocations(3_600_000, 100, clock);
    revocations.record({ issuer: `${ISS}/`, sub: 'alice', sid: 's1' });
    expect(revocations.refuses(token('alice', 's1', now - 1))).toBe(true);
    expect(revocations.refuses(token('alice', 's2', now - 1))).toBe(false);
    expect(revocations.refuses(token('alice', undefined, now - 1))).toBe(true);
    expect(revocations.refuses(token('alice', undefined, now + 1_000))).toBe(false);
    // sid alone
    revocations.record({ issuer: ISS, sid: 's9' });
    expect(revocations.refuses(token('carol', 's9', now - 1))).toBe(true);
  });

  it('forgets a record after the retention (every token it refused has expired by then), and holds at most maxEntries', () => {
    const revocations = new Revocations(300_000, 2, clock);
    revocations.record({ issuer: ISS, sub: 'alice' });
    const issued = now - 1;
    now += 299_000;
    expect(revocations.refuses(token('alice', 's1', issued))).toBe(true);
    now += 2_000;
    expect(revocations.refuses(token('alice', 's1', issued))).toBe(false);
    revocations.record({ issuer: ISS, sub: 'a' });
    revocations.record({ issuer: ISS, sub: 'b' });
    revocations.record({ issuer: ISS, sub: 'c' });
    expect(revocations.size).toBe(2);
  });
});
