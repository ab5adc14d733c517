/**
 * src/auth/identify.ts, step 4 of /auth on its own: the identity from the cache synchronously or
 * verified by its issuer (a promise), and step 4a, the route narrowed to the object the URI names
 * (per-object, Keycloak's resources only) or resolved through Keycloak. Small doubles.
 */
import { jest } from '@jest/globals';
import type { AuthDependencies } from '../../src/auth/dependencies.js';
import { identify, issuerOf, narrowRoute } from '../../src/auth/identify.js';
import { newDecisionState } from '../../src/auth/original-request.js';
import type { TrustedIssuer } from '../../src/idp/trusted-issuer.js';
import type { RouteMatch } from '../../src/routes/match.js';
import { hashToken, type Identity, type TokenVerifier } from '../../src/tokens/verify.js';

const keycloak = { keycloakResources: true } as TrustedIssuer;
const claimsIssuer = { keycloakResources: false } as TrustedIssuer;
const alice = { subject: 'u-1', tokenHash: 'h', issuer: keycloak } as Identity;

function verifierWith(cached: Map<string, Identity>) {
  const verifyFresh = jest.fn((_token: string, _hash: string) => Promise.resolve(alice));
  const verifier = { cached: (hash: string) => cached.get(hash), verifyFresh, primaryIssuer: keycloak } as unknown as TokenVerifier;
  return { verifier, verifyFresh };
}

describe('identify', () => {
  it('a cached identity is answered at once (no promise), looked up by the token’s hash', () => {
    const { verifier, verifyFresh } = verifierWith(new Map([[hashToken('tok'), alice]]));
    expect(identify(verifier, 'tok')).toBe(alice);
    expect(verifyFresh).not.toHaveBeenCalled();
  });

  it('a token not cached is verified afresh (a promise), with its hash', async () => {
    const { verifier, verifyFresh } = verifierWith(new Map());
    const result = identify(verifier, 'tok');
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBe(alice);
    expect(verifyFresh).toHaveBeenCalledWith('tok', hashToken('tok'));
  });
});

describe('issuerOf', () => {
  it('the issuer that verified the identity, else the primary', () => {
    const { verifier } = verifierWith(new Map());
    expect(issuerOf(verifier, { ...alice, issuer: claimsIssuer })).toBe(claimsIssuer);
    expect(issuerOf(verifier, { ...alice, issuer: undefined })).toBe(keycloak);
  });
});

describe('narrowRoute', () => {
  const route = { resource: 'experiment:*', family: 'experiment:*', scope: 'read' } as RouteMatch;
  const narrowed = { ...route, resource: 'experiment:7' } as RouteMatch;
  const remoteRoute = { ...route, remote: true } as RouteMatch;

  function deps(parts: { objects?: unknown; remote?: unknown }) {
    const { verifier } = verifierWith(new Map());
    return { verifier, objects: parts.objects, remote: parts.remote } as unknown as AuthDependencies;
  }
  function stateFor(identity: Identity) {
    const state = newDecisionState(0, undefined);
    state.identity = identity;
    state.method = 'GET';
    state.uri = { path: '/api/2.0/mlflow/experiments/get' } as typeof state.uri;
    return state;
  }

  it('without per-object or Keycloak routes: the route as matched, synchronously, kept on the state', () => {
    const state = stateFor(alice);
    expect(narrowRoute(deps({}), state, route)).toBe(route);
    expect(state.route).toBe(route);
  });

  it('per-object, for a Keycloak issuer: the object’s resource, at once when known, kept on the state', () => {
    const narrow = jest.fn(() => narrowed);
    const state = stateFor(alice);
    expect(narrowRoute(deps({ objects: { narrow } }), state, route)).toBe(narrowed);
    expect(state.route).toBe(narrowed);
    expect(narrow).toHaveBeenCalledWith('GET', state.uri, route, alice);
  });

  it('per-object, looked up: a promise, and the state holds the route once it is known', async () => {
    const state = stateFor(alice);
    const result = narrowRoute(deps({ objects: { narrow: () => Promise.resolve(narrowed) } }), state, route);
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBe(narrowed);
    expect(state.route).toBe(narrowed);
  });

  it('per-object does not apply to another issuer’s token: decided on the route’s own resource', () => {
    const narrow = jest.fn(() => narrowed);
    const state = stateFor({ ...alice, issuer: claimsIssuer });
    expect(narrowRoute(deps({ objects: { narrow } }), state, route)).toBe(route);
    expect(narrow).not.toHaveBeenCalled();
  });

  it('a path the table left to Keycloak is looked up there, whatever per-object says', async () => {
    const lookUp = jest.fn(() => Promise.resolve(narrowed));
    const narrow = jest.fn(() => route);
    const state = stateFor(alice);
    await expect(narrowRoute(deps({ remote: { lookUp }, objects: { narrow } }), state, remoteRoute)).resolves.toBe(narrowed);
    expect(lookUp).toHaveBeenCalledWith(remoteRoute, alice);
    expect(narrow).not.toHaveBeenCalled();
    expect(state.route).toBe(narrowed);
  });
});
