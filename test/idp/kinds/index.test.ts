import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { ISSUER_MODES } from '../../../src/config/issuer-schema.js';
import { Forbidden, Unauthenticated } from '../../../src/errors.js';
import { ISSUER_KINDS } from '../../../src/idp/kinds/index.js';
import { ALLOWED, type IssuerKind, type TrustedIssuer } from '../../../src/idp/trusted-issuer.js';
import type { FakeIdp } from '../../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../../helpers/service.js';
import { fakeIdp, type TestService, testService } from '../../helpers/test-service.js';

/**
 * A kind the service has never heard of, written here the way a new one is written in
 * src/idp/kinds/: it takes opaque `static_<user>` tokens and lets anyone read experiments.
 * The service runs it with nothing changed but the map of kinds.
 */
const staticKind: IssuerKind = (context) => {
  const issuer: TrustedIssuer = {
    settings: context.settings,
    provider: context.provider,
    introspects: true,
    takesOpaqueTokens: true,
    keycloakResources: false,
    async verify(token, tokenHash) {
      if (!token.startsWith('static_')) throw new Unauthenticated('invalid_token', { detail: 'not a static token' });
      const user = token.slice('static_'.length);
      return {
        subject: `static-${user}`,
        username: user,
        email: undefined,
        groups: ['static'],
        expiresAtMs: context.clock() + 60_000,
        tokenHash,
        permissions: undefined,
        issuer,
      };
    },
    authorize(_identity, { resource, scope }) {
      if (resource === 'experiments' && scope === 'read') return ALLOWED;
      throw new Forbidden('access_denied', { detail: `static kind: no ${resource}#${scope}` });
    },
  };
  return issuer;
};

describe('the map of IdP kinds', () => {
  it('has one kind for every mode the configuration accepts, and no other', () => {
    expect(Object.keys(ISSUER_KINDS).sort()).toEqual([...ISSUER_MODES].sort());
  });
});

describe('a new kind is one file and one map entry', () => {
  let primary: FakeIdp;
  let service: TestService;

  beforeAll(async () => {
    const other = await fakeIdp();
    const file = join(mkdtempSync(join(tmpdir(), 'authz-kinds-')), 'c.yaml');
    // Configured as a claims issuer (a mode the schema knows), then run as the new kind: the map decides.
    writeFileSync(
      file,
      `issuers:\n  - { id: fixed, url: ${other.url}, mode: claims, audiences: [x], policy: { rules: { "*#*": { anyOf: [{ claim: g, values: [v] }] } } } }\n`,
    );
    ({ idp: primary, service } = await testService({
      env: { AUTHZ_CONFIG: file, ...SMALL_ROUTES },
      issuerKinds: { ...ISSUER_KINDS, claims: staticKind },
    }));
  });
  beforeEach(() => {
    primary.umaCalls = [];
  });

  const auth = (method: string, uri: string, token: string) =>
    request(service.handler)
      .get('/auth')
      .set('X-Original-Method', method)
      .set('X-Original-URI', uri)
      .set('Authorization', `Bearer ${token}`);

  it('verifies and allows by the new kind, with no call to any IdP', async () => {
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get', 'static_alice');
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'x-auth-request-user': 'alice', 'x-auth-request-subject': 'static-alice' });
    expect(primary.umaCalls).toHaveLength(0);
    expect(await service.metrics.registry.getSingleMetricAsString('authz_decisions_total')).toMatch(
      /decision="allow",reason="allowed",resource="experiments",scope="read",source="local"} 1/,
    );
  });

  it("refuses what the new kind's authorize refuses, and what its verify refuses", async () => {
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', 'static_alice')).status).toBe(403);
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', 'opaque-but-not-static')).status).toBe(401);
    expect(primary.umaCalls).toHaveLength(0);
  });

  it('leaves the primary Keycloak issuer as it was', async () => {
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get', await primary.token({ sub: 'kc-user' }));
    expect(res.status).toBe(200);
    expect(primary.umaCalls).toHaveLength(1);
  });
});
