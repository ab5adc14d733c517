import type { IssuerSettings } from '../../../src/config/schema.js';
import { Forbidden } from '../../../src/errors.js';
import { claims } from '../../../src/idp/kinds/claims.js';
import type { IdentityProvider } from '../../../src/idp/provider.js';
import type { Identity } from '../../../src/idp/trusted-issuer.js';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/ops/metrics.js';
import { ClaimsPolicy } from '../../../src/policy/claims.js';
import type { FakeIdp } from '../../helpers/fake-idp.js';
import { testConfig } from '../../helpers/service.js';

const rules = new Map([['experiments#read', { anyOf: [{ claim: ['groups'], values: ['viewers'] }], allOf: undefined }]]);
const settings: IssuerSettings = {
  ...testConfig({ url: 'http://127.0.0.1:9/realms/x' } as FakeIdp).issuers[0]!,
  id: 'op',
  mode: 'claims',
  policy: rules,
};
const issuer = claims({
  settings,
  provider: {} as IdentityProvider, // authorize never touches it
  metrics: new Metrics({ defaultMetrics: false }),
  log: createLogger('silent'),
  clock: Date.now,
});
const who = (groups: string[]): Identity => ({
  subject: 's',
  username: undefined,
  email: undefined,
  groups,
  expiresAtMs: Date.now() + 60_000,
  tokenHash: 'h',
  permissions: undefined,
  claims: new ClaimsPolicy(rules).extract({ groups }),
});

describe('claims kind: authorize', () => {
  it('allows by its policy, by itself', () => {
    expect(issuer.authorize(who(['viewers']), { resource: 'experiments', family: 'experiments', scope: 'read' })).toEqual({
      kind: 'allowed',
    });
  });

  it('refuses with 403 naming the issuer and why: requirement not met, or no rule', () => {
    const refusal = (groups: string[], scope: string) => {
      try {
        issuer.authorize(who(groups), { resource: 'experiments', family: 'experiments', scope });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refusal(['others'], 'read')).toBeInstanceOf(Forbidden);
    expect((refusal(['others'], 'read') as Forbidden).detail).toBe('claims policy of issuer op: requirement_not_met');
    expect((refusal(['viewers'], 'delete') as Forbidden).detail).toBe('claims policy of issuer op: no_rule');
  });

  it('is not decided on Keycloak resources, reads JWTs only', () => {
    expect(issuer).toMatchObject({ keycloakResources: false, introspects: false, takesOpaqueTokens: false });
  });
});
