import { stringBytes } from '../../src/ops/metered-lru.js';
import { type Identity, identityBytes } from '../../src/tokens/verify.js';

// The token cache is bounded by cache.tokenMaxBytes through this estimate (issue 16, mutation
// testing): each part an identity holds must add its own weight, never subtract or be skipped,
// or a realm with many long groups, permissions or kept claims could grow the heap past the bound.

const base: Identity = {
  subject: '',
  username: undefined,
  email: undefined,
  groups: [],
  expiresAtMs: 0,
  tokenHash: '',
  permissions: undefined,
};
const empty = identityBytes(base);
const added = (part: Partial<Identity>) => identityBytes({ ...base, ...part }) - empty;
const text = (n: number) => 'x'.repeat(n);

describe('identityBytes: every part adds its weight', () => {
  it('weighs an empty identity above nothing', () => {
    expect(empty).toBeGreaterThan(0);
  });

  it.each(['subject', 'iss', 'sid', 'username', 'email', 'tokenHash'] as const)('adds the string %s', (field) => {
    expect(added({ [field]: text(100) })).toBe(stringBytes(text(100)) - stringBytes(base[field]));
  });

  it('adds each group with its own overhead', () => {
    const one = added({ groups: [text(50)] });
    expect(one).toBeGreaterThan(stringBytes(text(50)));
    expect(added({ groups: [text(50), text(70)] })).toBe(2 * one + stringBytes(text(70)) - stringBytes(text(50)));
  });

  it('adds each RPT permission, more per entry than a group', () => {
    const one = added({ permissions: new Set([text(20)]) });
    expect(one).toBeGreaterThan(added({ groups: [text(20)] }));
    expect(added({ permissions: new Set([text(20), text(30)]) })).toBe(2 * one + stringBytes(text(30)) - stringBytes(text(20)));
    expect(added({ permissions: new Set() })).toBe(0);
  });

  it('adds each kept claim path and each of its values', () => {
    const path = added({ claims: new Map([['roles', []]]) });
    expect(path).toBeGreaterThan(stringBytes('roles'));
    const value = added({ claims: new Map([['roles', [text(40)]]]) }) - path;
    expect(value).toBeGreaterThan(stringBytes(text(40)));
    expect(added({ claims: new Map([['roles', [text(40), text(40)]]]) })).toBe(path + 2 * value);
    expect(
      added({
        claims: new Map([
          ['roles', [text(40)]],
          ['team', [text(40)]],
        ]),
      }),
    ).toBe(2 * (path + value) + stringBytes('team') - stringBytes('roles'));
  });
});
