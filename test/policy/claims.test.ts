import { ClaimsPolicy, readClaim } from '../../src/policy/claims.js';
import { toPath } from '../../src/config/normalize-issuers.js';
import type { PolicyRequirement } from '../../src/config/schema.js';

const claims = {
  sub: 'u1',
  scope: 'openid  mlflow:read profile',
  scp: ['mlflow:write'],
  groups: ['/mlflow-viewers', 'ops'],
  realm_access: { roles: ['mlflow-editor', 'offline_access'] },
  'https://example.com/roles': ['admin'],
  'https://example.com': { roles: ['not-this-one'] },
  email_verified: true,
  level: 3,
  nested: { list: [{ deep: 'x' }, 'flat'] },
};

describe('readClaim', () => {
  it('follows dotted paths and segment lists', () => {
    expect(readClaim(claims, toPath('realm_access.roles'))).toEqual(['mlflow-editor', 'offline_access']);
    expect(readClaim(claims, toPath(['https://example.com/roles']))).toEqual(['admin']);
    expect(readClaim(claims, toPath(['https://example.com', 'roles']))).toEqual(['not-this-one']);
  });
  it('splits scope and scp strings at spaces, and keeps other strings whole', () => {
    expect(readClaim(claims, ['scope'])).toEqual(['openid', 'mlflow:read', 'profile']);
    expect(readClaim({ scp: 'a b' }, ['scp'])).toEqual(['a', 'b']);
    expect(readClaim(claims, ['scp'])).toEqual(['mlflow:write']);
    expect(readClaim({ name: 'Data Scientists' }, ['name'])).toEqual(['Data Scientists']);
  });
  it('gives numbers and booleans as text, skips objects inside lists', () => {
    expect(readClaim(claims, ['email_verified'])).toEqual(['true']);
    expect(readClaim(claims, ['level'])).toEqual(['3']);
    expect(readClaim(claims, toPath('nested.list'))).toEqual(['flat']);
  });
  it('gives nothing for an absent claim or a path through a non-object', () => {
    expect(readClaim(claims, ['missing'])).toEqual([]);
    expect(readClaim(claims, toPath('groups.0'))).toEqual([]);
    expect(readClaim(claims, toPath('sub.x'))).toEqual([]);
    expect(readClaim(claims, toPath('realm_access'))).toEqual([]);
    expect(readClaim(claims, ['constructor'])).toEqual([]); // own properties only
  });
});

const rule = (anyOf?: [string | string[], string[]][], allOf?: [string | string[], string[]][]): PolicyRequirement => ({
  anyOf: anyOf?.map(([claim, values]) => ({ claim: toPath(claim), values })),
  allOf: allOf?.map(([claim, values]) => ({ claim: toPath(claim), values })),
});

describe('ClaimsPolicy', () => {
  const policy = new ClaimsPolicy(
    new Map([
      [
        'experiments#read',
        rule([
          ['groups', ['/mlflow-viewers']],
          ['scope', ['mlflow:read']],
        ]),
      ],
      ['experiments#write', rule([[['https://example.com/roles'], ['admin']]], [['email_verified', ['true']]])],
      ['bucket:{bucket}#read', rule([['realm_access.roles', ['mlflow-editor']]])],
      ['runs#*', rule([['scp', ['mlflow:write']]])],
      ['*#delete', rule([['groups', ['admins']]])],
    ]),
  );
  const values = policy.extract(claims);

  it('keeps only the values of the claim paths its rules read', () => {
    expect([...values.keys()].sort()).toEqual(
      ['email_verified', 'groups', 'https://example.com/roles', 'realm_access\u0000roles', 'scope', 'scp'].sort(),
    );
    expect(values.has('sub')).toBe(false);
  });
  it('allows when one anyOf condition and every allOf condition hold', () => {
    expect(policy.decide(values, 'experiments', 'experiments', 'read')).toBe('allowed');
    expect(policy.decide(values, 'experiments', 'experiments', 'write')).toBe('allowed');
    expect(policy.decide(policy.extract({ ...claims, email_verified: false }), 'experiments', 'experiments', 'write')).toBe(
      'requirement_not_met',
    );
  });
  it('denies when the claim is absent', () => {
    expect(policy.decide(policy.extract({ sub: 'u2' }), 'experiments', 'experiments', 'read')).toBe('requirement_not_met');
    expect(policy.decide(policy.extract({ sub: 'u2', groups: 'mlflow-viewers' }), 'experiments', 'experiments', 'read')).toBe(
      'requirement_not_met',
    );
  });
  it('takes the most specific rule alone: resource, family, resource#*, *#scope; none → deny', () => {
    expect(policy.decide(values, 'bucket:mlflow', 'bucket:{bucket}', 'read')).toBe('allowed');
    expect(policy.decide(values, 'runs', 'runs', 'delete')).toBe('allowed'); // runs#* before *#delete
    expect(policy.decide(values, 'models', 'models', 'delete')).toBe('requirement_not_met');
    expect(policy.decide(values, 'models', 'models', 'read')).toBe('no_rule');
  });
});
