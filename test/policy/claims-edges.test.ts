import { ClaimsPolicy, readClaim } from '../../src/policy/claims.js';
import { toPath } from '../../src/config/normalize-issuers.js';
import type { PolicyRequirement } from '../../src/config/schema.js';

// Edges of the claims policy that decide allow/deny (issue 16, mutation testing of src/policy/claims.ts).

const needs = (claim: string, ...values: string[]) => ({ claim: toPath(claim), values });
const any = (...anyOf: ReturnType<typeof needs>[]): PolicyRequirement => ({ anyOf, allOf: undefined });
const all = (...allOf: ReturnType<typeof needs>[]): PolicyRequirement => ({ anyOf: undefined, allOf });

describe('readClaim edges', () => {
  it('gives nothing for a path through null, and never throws', () => {
    expect(readClaim({ a: null }, toPath('a.b'))).toEqual([]);
    expect(readClaim({ a: null }, ['a'])).toEqual([]);
  });
  it('gives nothing for a path through a string or a number (not its length or its characters)', () => {
    expect(readClaim({ email: 'ann@example.com' }, toPath('email.length'))).toEqual([]);
    expect(readClaim({ role: 'admin' }, toPath('role.0'))).toEqual([]);
    expect(readClaim({ level: 3 }, toPath('level.x'))).toEqual([]);
    const policy = new ClaimsPolicy(new Map([['runs#read', { anyOf: [needs('role.0', 'a')], allOf: undefined }]]));
    expect(policy.decide(policy.extract({ role: 'admin' }), 'runs', 'runs', 'read')).toBe('requirement_not_met');
  });
  it('keeps number and boolean elements of a list as text, and skips null and objects', () => {
    expect(readClaim({ roles: [1, true, 'x', null, { y: 1 }, ['z']] }, ['roles'])).toEqual(['1', 'true', 'x']);
  });
  it('drops the empty value a leading or trailing space would give a scope', () => {
    expect(readClaim({ scope: ' a  b ' }, ['scope'])).toEqual(['a', 'b']);
    expect(readClaim({ scp: '\tc\n' }, ['scp'])).toEqual(['c']);
    expect(readClaim({ other: ' a b ' }, ['other'])).toEqual([' a b ']);
  });
});

describe('ClaimsPolicy edges', () => {
  it('keeps no entry for a claim the token lacks', () => {
    const policy = new ClaimsPolicy(new Map([['runs#read', any(needs('groups', 'g'))]]));
    expect(policy.extract({ sub: 'u' }).size).toBe(0);
    expect(policy.extract({ sub: 'u', groups: [] }).size).toBe(0);
    expect(policy.extract({ sub: 'u', groups: ['g'] }).get('groups')).toEqual(['g']);
  });

  it('allows on any one anyOf condition; allOf needs every condition', () => {
    const policy = new ClaimsPolicy(
      new Map<string, PolicyRequirement>([
        ['runs#read', any(needs('groups', 'viewers'), needs('roles', 'reader'))],
        ['runs#write', all(needs('groups', 'editors'), needs('email_verified', 'true'))],
      ]),
    );
    const decide = (claims: Record<string, unknown>, scope: string) => policy.decide(policy.extract(claims), 'runs', 'runs', scope);
    expect(decide({ groups: ['viewers'] }, 'read')).toBe('allowed');
    expect(decide({ roles: ['reader'] }, 'read')).toBe('allowed');
    expect(decide({ groups: ['other'], roles: ['other'] }, 'read')).toBe('requirement_not_met');
    expect(decide({ groups: ['editors'], email_verified: true }, 'write')).toBe('allowed');
    expect(decide({ groups: ['editors'], email_verified: false }, 'write')).toBe('requirement_not_met');
    expect(decide({ groups: ['viewers'], email_verified: true }, 'write')).toBe('requirement_not_met');
    expect(decide({ email_verified: true }, 'write')).toBe('requirement_not_met');
  });

  it('a rule with neither anyOf nor allOf allows any verified token', () => {
    const policy = new ClaimsPolicy(new Map([['runs#read', { anyOf: undefined, allOf: undefined }]]));
    expect(policy.decide(policy.extract({}), 'runs', 'runs', 'read')).toBe('allowed');
  });

  it('takes the most specific rule alone, at each of the six levels', () => {
    // Each level requires a different group: the one that decides is told by which group allows.
    const levels = ['bucket:a#read', 'bucket:{bucket}#read', 'bucket:a#*', 'bucket:{bucket}#*', '*#read', '*#*'];
    const decideWith = (present: readonly string[], resource: string, scope: string, group: string) => {
      const policy = new ClaimsPolicy(new Map(present.map((pattern) => [pattern, any(needs('groups', pattern))])));
      return policy.decide(policy.extract({ groups: [group] }), resource, 'bucket:{bucket}', scope);
    };
    for (let level = 0; level < levels.length; level++) {
      const present = levels.slice(level);
      // The most specific present rule decides: its group allows...
      expect(decideWith(present, 'bucket:a', 'read', levels[level]!)).toBe('allowed');
      // ...and a less specific rule's group does not.
      for (const weaker of present.slice(1)) expect(decideWith(present, 'bucket:a', 'read', weaker)).toBe('requirement_not_met');
    }
    // Patterns are exact: another resource or scope falls through to the wildcards only.
    expect(decideWith(['bucket:a#read', 'bucket:a#*'], 'bucket:b', 'write', 'bucket:a#read')).toBe('no_rule');
    expect(decideWith(['bucket:{bucket}#read'], 'bucket:b', 'write', 'bucket:{bucket}#read')).toBe('no_rule');
    expect(decideWith(['bucket:a#read'], 'bucket:a', 'write', 'bucket:a#read')).toBe('no_rule');
    expect(decideWith(['bucket:a#read'], 'bucket:b', 'read', 'bucket:a#read')).toBe('no_rule');
    expect(decideWith(['*#read'], 'x', 'write', '*#read')).toBe('no_rule');
  });
});
