import type { IssuerSettings } from '../../../src/config/schema.js';
import type { Challenger, Decider } from '../../../src/idp/decider.js';
import { keycloakUma } from '../../../src/idp/kinds/keycloak-uma.js';
import type { IdentityProvider } from '../../../src/idp/provider.js';
import type { Identity, KindContext } from '../../../src/idp/trusted-issuer.js';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/ops/metrics.js';
import type { FakeIdp } from '../../helpers/fake-idp.js';
import { testConfig } from '../../helpers/service.js';

const settings: IssuerSettings = testConfig({ url: 'http://127.0.0.1:9/realms/x' } as FakeIdp).issuers[0]!;
const decider: Decider = { decide: async () => undefined };
const challenger: Challenger = { challenge: async () => Promise.reject(new Error('ticket')) };
const context = (links: Pick<KindContext, 'decider' | 'challenger'>): KindContext => ({
  settings,
  provider: {} as IdentityProvider, // authorize never touches it
  metrics: new Metrics({ defaultMetrics: false }),
  log: createLogger('silent'),
  clock: Date.now,
  ...links,
});
const who = (permissions: string[] | undefined): Identity => ({
  subject: 's',
  username: undefined,
  email: undefined,
  groups: [],
  expiresAtMs: Date.now() + 60_000,
  tokenHash: 'h',
  permissions: permissions === undefined ? undefined : new Set(permissions),
});
const READ = { resource: 'experiments', family: 'experiments', scope: 'read' };

describe('keycloak-uma kind: authorize', () => {
  const withChallenge = keycloakUma(context({ decider: () => decider, challenger: () => challenger }));
  const plain = keycloakUma(context({ decider: () => decider }));

  it('allows an RPT that holds the permission, by itself', () => {
    expect(withChallenge.authorize(who(['experiments#read']), READ)).toEqual({ kind: 'allowed' });
    expect(plain.authorize(who(['experiments#read']), READ)).toEqual({ kind: 'allowed' });
  });

  it('sends a token that is not an RPT for one only when it has a challenger', () => {
    expect(withChallenge.authorize(who(undefined), READ)).toEqual({ kind: 'challenge', challenger });
    expect(plain.authorize(who(undefined), READ)).toEqual({ kind: 'ask', decider });
  });

  it('asks its decision client for an RPT lacking the permission (never a new challenge)', () => {
    expect(withChallenge.authorize(who(['experiments#update']), READ)).toEqual({ kind: 'ask', decider });
  });

  it('is decided on Keycloak resources, reads JWTs only', () => {
    expect(plain).toMatchObject({ keycloakResources: true, introspects: false, takesOpaqueTokens: false });
  });
});
