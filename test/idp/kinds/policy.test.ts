/** src/idp/kinds/policy.ts: the claims-policy half the `claims` and `introspection` kinds share. */
import type { IssuerSettings } from '../../../src/config/schema.js';
import { Forbidden } from '../../../src/errors.js';
import { authorizeByPolicy, claimsPolicyOf } from '../../../src/idp/kinds/policy.js';
import { ALLOWED, type Identity } from '../../../src/idp/trusted-issuer.js';

const settings = {
  id: 'partner',
  policy: new Map([['experiment#read', { anyOf: [{ claim: ['groups'], values: ['readers'] }], allOf: undefined }]]),
} as unknown as IssuerSettings;
const read = { resource: 'experiment:7', family: 'experiment', scope: 'read' };

const withGroups = (groups: string[] | undefined) =>
  ({ subject: 'u', claims: groups === undefined ? undefined : new Map([['groups', groups]]) }) as unknown as Identity;

describe('authorizeByPolicy', () => {
  const policy = claimsPolicyOf(settings);

  it('allowed when the kept claim values meet the rule of the route’s family and scope', () => {
    expect(authorizeByPolicy(policy, settings, withGroups(['readers']), read)).toBe(ALLOWED);
  });

  it('refused (Forbidden access_denied) naming the issuer and the policy’s outcome otherwise', () => {
    for (const identity of [withGroups(['writers']), withGroups(undefined)]) {
      let thrown: unknown;
      try {
        authorizeByPolicy(policy, settings, identity, read);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Forbidden);
      expect((thrown as Forbidden).code).toBe('access_denied');
      expect((thrown as Forbidden).detail).toMatch(/^claims policy of issuer partner: /);
    }
  });

  it('a permission without a rule is refused (default deny)', () => {
    expect(() => authorizeByPolicy(policy, settings, withGroups(['readers']), { ...read, scope: 'delete' })).toThrow(Forbidden);
  });

  it('an issuer without a policy denies everything rather than allowing it', () => {
    const none = claimsPolicyOf({ ...settings, policy: undefined } as IssuerSettings);
    expect(() => authorizeByPolicy(none, settings, withGroups(['readers']), read)).toThrow(Forbidden);
  });
});
