/**
 * src/auth/decide.ts, step 5 of /auth on its own: the token's issuer says how (allowed, challenge,
 * ask), a cached answer is used synchronously, a miss makes one call to the issuer's decision
 * client, and request-named resources cost their subject a lookup. Small doubles for the issuer
 * and its decision client; the real decision cache.
 */
import { jest } from '@jest/globals';
import type { AuthDependencies } from '../../src/auth/dependencies.js';
import { decideRoute } from '../../src/auth/decide.js';
import { newDecisionState } from '../../src/auth/original-request.js';
import { DecisionCache } from '../../src/decide/cache.js';
import { Forbidden, PermissionTicketChallenge } from '../../src/errors.js';
import type { Challenger, Decider } from '../../src/idp/decider.js';
import { ALLOWED, type Authorization, type Identity, type TrustedIssuer } from '../../src/idp/trusted-issuer.js';
import { Metrics } from '../../src/ops/metrics.js';
import type { RouteMatch } from '../../src/routes/match.js';

const now = 1_000_000;
const clock = () => now;

/** A decision client that answers `answer` and counts its calls. */
function decider(answer: () => Promise<void> = () => Promise.resolve()) {
  const calls: string[] = [];
  const client: Decider = {
    decide: (token, resource, scope) => {
      calls.push(`${token}:${resource}#${scope}`);
      return answer();
    },
  };
  return { client, calls };
}

/** The parts of the pipeline step 5 reads, with the issuer answering `how`. */
function setup(how: () => Authorization) {
  const issuer = { authorize: jest.fn(() => how()) } as unknown as TrustedIssuer;
  const taken: string[] = [];
  const deps = {
    verifier: { primaryIssuer: issuer },
    cache: new DecisionCache(100, { allowTtlMs: 60_000, denyTtlMs: 5_000 }, new Metrics({ defaultMetrics: false }), clock),
    limiter: { take: (_who: Identity, kind: string) => taken.push(kind) },
  } as unknown as AuthDependencies;
  return { deps, issuer, taken };
}

const identity = { subject: 'u-1', tokenHash: 'hash-1', expiresAtMs: now + 300_000 } as Identity;
const tableRoute = { resource: 'experiment:*', family: 'experiment:*', scope: 'read' } as RouteMatch;
const namedRoute = { resource: 'experiment:7', family: 'experiment:*', scope: 'read' } as RouteMatch;
const state = () => newDecisionState(0, undefined);

describe('decideRoute', () => {
  it('allowed by the issuer itself: answered at once, source local, no cache and no call', () => {
    const { deps, issuer } = setup(() => ALLOWED);
    const decision = state();
    expect(decideRoute(deps, 'tok', identity, tableRoute, decision)).toBeUndefined();
    expect(decision.source).toBe('local');
    expect(deps.cache.size).toBe(0);
    expect(issuer.authorize).toHaveBeenCalledWith(identity, tableRoute);
  });

  it('refused by the issuer’s own checks: thrown synchronously, a local decision', () => {
    const { deps } = setup(() => {
      throw new Forbidden('access_denied', { detail: 'claims policy' });
    });
    const decision = state();
    expect(() => decideRoute(deps, 'tok', identity, tableRoute, decision)).toThrow(Forbidden);
    expect(decision.source).toBe('local');
  });

  it('ask, on a miss: one call to the decision client, remembered; the next decision is synchronous from the cache', async () => {
    const { client, calls } = decider();
    const { deps } = setup(() => ({ kind: 'ask', decider: client }));
    const first = state();
    const pending = decideRoute(deps, 'tok', identity, tableRoute, first);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(first.source).toBe('idp');
    expect(calls).toEqual(['tok:experiment:*#read']);

    const second = state();
    expect(decideRoute(deps, 'tok', identity, tableRoute, second)).toBeUndefined();
    expect(second.source).toBe('cache');
    expect(second.decidedUntilMs).toBe(now + 60_000);
    expect(calls).toHaveLength(1);
  });

  it('ask: a refusal is remembered too, and thrown synchronously from the cache', async () => {
    const { client, calls } = decider(() => Promise.reject(new Forbidden('access_denied')));
    const { deps } = setup(() => ({ kind: 'ask', decider: client }));
    await expect(decideRoute(deps, 'tok', identity, tableRoute, state()) as Promise<void>).rejects.toBeInstanceOf(Forbidden);
    const again = state();
    expect(() => decideRoute(deps, 'tok', identity, tableRoute, again)).toThrow(Forbidden);
    expect(again.source).toBe('cache');
    expect(calls).toHaveLength(1);
  });

  it('ask: answers are kept per token, resource and scope', async () => {
    const { client, calls } = decider();
    const { deps } = setup(() => ({ kind: 'ask', decider: client }));
    await decideRoute(deps, 'tok', identity, tableRoute, state());
    await decideRoute(deps, 'tok', identity, { ...tableRoute, scope: 'update' } as RouteMatch, state());
    await decideRoute(deps, 'tok', identity, namedRoute, state());
    await decideRoute(deps, 'other', { ...identity, tokenHash: 'hash-2' }, tableRoute, state());
    expect(calls).toHaveLength(4);
  });

  it('a resource the request named costs its subject a lookup, on a miss only; the table’s own resource costs nothing', async () => {
    const { client } = decider();
    const { deps, taken } = setup(() => ({ kind: 'ask', decider: client }));
    await decideRoute(deps, 'tok', identity, tableRoute, state());
    expect(taken).toEqual([]);
    await decideRoute(deps, 'tok', identity, namedRoute, state());
    expect(taken).toEqual(['decision']);
    decideRoute(deps, 'tok', identity, namedRoute, state()); // cached
    expect(taken).toEqual(['decision']);
  });

  it('challenge: the challenger answers (a ticket), never cached; a named resource costs a ticket lookup', async () => {
    const challenges: string[] = [];
    const challenger: Challenger = {
      challenge: (resource, scope) => {
        challenges.push(`${resource}#${scope}`);
        return Promise.reject(new PermissionTicketChallenge('ticket', 'https://idp'));
      },
    };
    const { deps, taken } = setup(() => ({ kind: 'challenge', challenger }));
    const decision = state();
    await expect(decideRoute(deps, 'tok', identity, namedRoute, decision) as Promise<void>).rejects.toBeInstanceOf(
      PermissionTicketChallenge,
    );
    expect(decision.source).toBe('idp');
    await expect(decideRoute(deps, 'tok', identity, namedRoute, state()) as Promise<void>).rejects.toBeInstanceOf(
      PermissionTicketChallenge,
    );
    expect(challenges).toEqual(['experiment:7#read', 'experiment:7#read']);
    expect(taken).toEqual(['ticket', 'ticket']);
    expect(deps.cache.size).toBe(0);
  });

  it('an identity without an issuer is decided by the primary', () => {
    const { deps, issuer } = setup(() => ALLOWED);
    decideRoute(deps, 'tok', { ...identity, issuer: undefined }, tableRoute, state());
    expect(issuer.authorize).toHaveBeenCalledTimes(1);
  });

  it('an identity is decided by the issuer that verified it, not the primary', () => {
    const { deps, issuer: primary } = setup(() => {
      throw new Error('the primary must not be asked');
    });
    const other = { authorize: jest.fn(() => ALLOWED) } as unknown as TrustedIssuer;
    expect(decideRoute(deps, 'tok', { ...identity, issuer: other }, tableRoute, state())).toBeUndefined();
    expect(primary.authorize).not.toHaveBeenCalled();
    expect(other.authorize).toHaveBeenCalledTimes(1);
  });
});
