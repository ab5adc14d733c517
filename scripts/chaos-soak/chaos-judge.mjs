/**
 * Judges every answer of the chaos run (scripts/chaos.mjs) against the timeline of faults.
 *
 * Token sets: `warm` (decided on the "early" routes before Keycloak is killed, so cached), `cold`
 * (never used before the kill: every decision is a miss), `mlflow` (the MLflow front's own
 * tokens, cached like `warm`), `fresh` (issued by the restarted Keycloak). The rules:
 *  - never an allow that Keycloak's policies refuse (matrix.mjs), at any time;
 *  - never a request without an HTTP answer (NGINX always answers, even with nginx-authz gone);
 *  - before the kill, the policy's answer (200 or 403), or 500 when Keycloak was slower than the
 *    service's IdP timeout; for fresh tokens from `bound` s after Keycloak is ready (outside the
 *    nginx-authz restart), exactly the policy's answer: 200 or 403;
 *  - from the kill until Keycloak accepts connections again: an allow only from the cache, i.e.
 *    for a pair (token set, user, resource#scope) first allowed before the kill, and only until
 *    that first allow + the allow TTL; such a cached allow is served until then; every other
 *    allowed request (a miss) is answered 500 by NGINX (nginx-authz's 503), never 200;
 *  - tokens issued before the restart (the stack's Keycloak keeps its keys in memory, so its new
 *    instance signs with new keys and refuses the old tokens): an allow only from the cache, as above.
 */
import { keycloakAllows } from './matrix.mjs';
import { outcome, Tally, Violations } from './judge.mjs';

const SLACK_MS = 500; // the cache's own clock vs. the client's send/receive times

export class ChaosJudge {
  /** @param {{ allowTtlMs: number, recoveryBoundMs: number }} o */
  constructor(o) {
    this.ttl = o.allowTtlMs;
    this.bound = o.recoveryBoundMs;
    /** Times (ms since the epoch) of what happened, set by the driver. */
    this.marks = {
      killIssued: Infinity,
      kill: Infinity,
      kcPortOpen: Infinity,
      kcReady: Infinity,
      recovered: Infinity,
      authzStop: Infinity,
      authzUp: Infinity,
    };
    this.firstAllow = new Map();
    this.violations = new Violations();
    this.tally = new Tally();
    this.cachedServed = new Map(); // pair -> last cached allow served while Keycloak was down (ms after first allow)
    this.missAfterCache = new Map(); // pair -> first unavailable answer after its cached allow (ms after first allow)
    this.authzGap = { first: Infinity, last: -Infinity, statuses: new Tally() };
    this.authzTimeline = new Tally(); // answers per 250 ms around the nginx-authz restart, all token sets
  }

  phase(t) {
    const m = this.marks;
    if (t < m.killIssued) return '1-before';
    if (t < m.kill) return '1-killing'; // keycloak.sh kill is running: Keycloak may or may not answer
    if (t < m.kcPortOpen) return '2-keycloak-down';
    if (t < m.kcReady) return '3-keycloak-starting';
    if (t < m.authzStop) return '4-keycloak-back';
    if (t < m.authzUp + 1000) return '5-authz-restart';
    return '6-after-authz-restart';
  }

  /** @param {import('./load.mjs').Result} r */
  onResult(r) {
    const { user, route, tag } = r.shot;
    const allowed = keycloakAllows(user, route.resource, route.scope);
    const seen = outcome(r);
    const phase = this.phase(r.start);
    const pair = `${tag}:${user}:${route.resource}#${route.scope}`;
    const m = this.marks;
    this.tally.add(`${phase} ${tag.padEnd(6)} ${allowed ? 'may   ' : 'may-not'} → ${seen} ${r.status || r.error}`);

    if (seen === 'error') return this.violations.add('no-http-answer', r, r.error);
    if (!allowed && seen === 'allow') return this.violations.add('false-allow', r);

    if (phase === '5-authz-restart' || (r.start >= m.authzStop - 2000 && r.start < m.authzStop)) {
      const slot = Math.floor((r.start - m.authzStop) / 250) * 0.25;
      this.authzTimeline.add(`${slot.toFixed(2).padStart(6)} s ${r.status}`);
    }
    if (phase === '5-authz-restart' && tag === 'fresh' && !(allowed ? seen === 'allow' : r.status === 403)) {
      this.authzGap.first = Math.min(this.authzGap.first, r.start);
      this.authzGap.last = Math.max(this.authzGap.last, r.end);
      this.authzGap.statuses.add(`${r.status}`);
    }
    if (phase === '1-killing') return;
    if (phase === '1-before') {
      // A 500 here is Keycloak answering slower than nginx-authz's IdP timeout (a loaded machine): counted, not a fault.
      if (seen === 'unavailable') return;
      if (allowed ? r.status !== 200 : r.status !== 403) return this.violations.add('wrong-answer-before-kill', r, `HTTP ${r.status}`);
      if (allowed) {
        // The cache entry was written after the earliest start and before the earliest end of the pair's
        // allows; answers arrive out of order (an MLflow write can take seconds), so keep both minima.
        const prev = this.firstAllow.get(pair);
        this.firstAllow.set(pair, { start: Math.min(prev?.start ?? Infinity, r.start), end: Math.min(prev?.end ?? Infinity, r.end) });
      }
      return;
    }
    if (tag === 'fresh') {
      const settled = r.start >= m.kcReady + this.bound && (r.start < m.authzStop || r.start >= m.authzUp + 1000);
      if (settled && (allowed ? r.status !== 200 : r.status !== 403))
        this.violations.add('wrong-answer-after-recovery', r, `HTTP ${r.status}`);
      return;
    }
    // Tokens from before the restart: allowed only out of the cache, within the TTL.
    if (!allowed) return;
    const cached = this.firstAllow.get(pair);
    const down = r.start < m.kcPortOpen;
    if (seen === 'allow') {
      if (!cached) return this.violations.add(down ? 'uncached-allow-while-keycloak-down' : 'old-token-allowed-uncached', r);
      if (r.start > cached.end + this.ttl + SLACK_MS)
        return this.violations.add('allow-past-ttl', r, `${Math.round(r.start - cached.start)} ms after first allow`);
      if (down) this.cachedServed.set(pair, Math.max(this.cachedServed.get(pair) ?? 0, r.end - cached.start));
      return;
    }
    if (!down) return; // Keycloak back: it refuses tokens of its previous keys (401/403); any refusal is right
    if (cached && r.end < cached.start + this.ttl - SLACK_MS)
      return this.violations.add('cached-allow-not-served', r, `HTTP ${r.status} ${Math.round(r.end - cached.start)} ms after first allow`);
    if (r.status !== 500) return this.violations.add('miss-not-answered-500', r, `HTTP ${r.status}`);
    if (cached && !this.missAfterCache.has(pair)) this.missAfterCache.set(pair, r.start - cached.start);
  }

  /** Summary figures for the report. */
  summary() {
    const range = (map) => (map.size ? [Math.min(...map.values()), Math.max(...map.values())].map((x) => +(x / 1000).toFixed(2)) : null);
    const g = this.authzGap;
    return {
      violations: this.violations.count,
      violationKinds: this.violations.kinds.toJSON(),
      examples: this.violations.examples,
      cachedAllowsServedWhileDownSeconds: range(this.cachedServed),
      cachedPairsServedWhileDown: this.cachedServed.size,
      firstMissAfterCachedAllowSeconds: range(this.missAfterCache),
      authzRestartGap: Number.isFinite(g.first)
        ? {
            seconds: +((g.last - g.first) / 1000).toFixed(2),
            fromStopSeconds: +((g.first - this.marks.authzStop) / 1000).toFixed(2),
            statuses: g.statuses.toJSON(),
          }
        : null,
      authzRestartTimeline: this.authzTimeline.toJSON(),
      answers: this.tally.toJSON(),
    };
  }
}
