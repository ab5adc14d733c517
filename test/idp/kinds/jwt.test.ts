import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { toIdentity } from '../../../src/idp/kinds/jwt.js';
import type { TrustedIssuer } from '../../../src/idp/trusted-issuer.js';

const ISSUER = `https://idp.example.com/realms/${'r'.repeat(1_000)}`;
const issuer = {
  settings: { claims: { username: ['preferred_username'], email: ['email'], groups: ['groups'] } },
  provider: { endpoints: { issuer: ISSUER } },
} as unknown as TrustedIssuer;

/** Claims as a verified token's payload arrives: freshly parsed, so every string is its own copy. */
const claimsOf = (i: number, iss: string): Record<string, unknown> =>
  JSON.parse(JSON.stringify({ iss, sub: `user-${i}`, sid: `s${i}`, iat: 1_800_000_000, preferred_username: `u${i}` }));

describe('toIdentity', () => {
  it('keeps the logout fields: iss, sid, iat in ms', () => {
    const identity = toIdentity(issuer, claimsOf(1, ISSUER), 'user-1', 2e12, 'hash', undefined, undefined);
    expect(identity).toMatchObject({ iss: ISSUER, sid: 's1', issuedAtMs: 1_800_000_000_000, subject: 'user-1', username: 'u1' });
    expect(toIdentity(issuer, claimsOf(2, 'https://other.example.com'), 'user-2', 2e12, 'hash', undefined, undefined).iss).toBe(
      'https://other.example.com',
    );
    expect(toIdentity(issuer, { sub: 'x' }, 'x', 2e12, 'hash', undefined, undefined).iss).toBeUndefined();
  });

  it('shares the issuer’s own iss string instead of holding a copy per cached identity', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const payloads = Array.from({ length: 5_000 }, (_, i) => claimsOf(i, ISSUER));
    const identities = payloads.map((claims, i) => toIdentity(issuer, claims, `user-${i}`, 2e12, `h${i}`, undefined, undefined));
    payloads.length = 0; // the payloads are dropped once verified, as in the service
    gc();
    const perIdentity = (process.memoryUsage().heapUsed - before) / identities.length;
    expect(identities[4_999]!.iss).toBe(ISSUER);
    // A copy of this 1,032-character iss alone would be over 1,000 bytes an identity.
    expect(perIdentity).toBeLessThan(600);
  });

  it('shares one frozen groups list between identities whose tokens carry the same groups', () => {
    const withGroups = (i: number, groups: string[]) =>
      toIdentity(issuer, JSON.parse(JSON.stringify({ sub: `u${i}`, groups })), `u${i}`, 2e12, `h${i}`, undefined, undefined);
    const a = withGroups(1, ['mlflow-editors', 'staff']);
    const b = withGroups(2, ['mlflow-editors', 'staff']);
    expect(a.groups).toBe(b.groups);
    expect(a.groups).toEqual(['mlflow-editors', 'staff']);
    expect(Object.isFrozen(a.groups)).toBe(true);
    expect(withGroups(3, ['staff']).groups).toEqual(['staff']);
    expect(withGroups(4, []).groups).toEqual([]);
  });
});
