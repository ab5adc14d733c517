/**
 * What a client saw, in the terms the checks use: `allow` (the request reached the upstream),
 * `deny` (NGINX's 401/403 after the decision), `unavailable` (NGINX's 500 after a decision that
 * failed: nginx-authz's 503 or no answer at all, or a 502/503/504) and `error` (no HTTP answer).
 */

/**
 * @param {import('./load.mjs').Result} r
 * @returns {'allow' | 'deny' | 'unavailable' | 'error'}
 */
export function outcome(r) {
  if (r.error !== undefined || r.status === 0) return 'error';
  if (r.shot.route.front === 'load') {
    // The trivial upstream's body proves the request got past the decision.
    if (r.status === 200 && r.body.startsWith('load-test upstream')) return 'allow';
    if (r.status === 401 || r.status === 403) return 'deny';
    if (r.status >= 500) return 'unavailable';
    return 'allow'; // any other answer would have come from the upstream side: treat as reached
  }
  // MLflow front: NGINX's own pages are the 401/403 JSON of authz-errors.conf and its HTML 5xx.
  if (r.status === 401 || r.status === 403) return 'deny';
  if (r.status >= 500 && r.status <= 504 && (r.status !== 500 || r.body.startsWith('<html>'))) return 'unavailable';
  return 'allow';
}

/** Counts by a key, kept in insertion order. */
export class Tally {
  constructor() {
    this.map = new Map();
  }
  add(key, n = 1) {
    this.map.set(key, (this.map.get(key) ?? 0) + n);
  }
  get(key) {
    return this.map.get(key) ?? 0;
  }
  toJSON() {
    return Object.fromEntries([...this.map.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** Keeps the first few examples of each kind of failure, for the report. */
export class Violations {
  constructor(keep = 5) {
    this.keep = keep;
    this.kinds = new Tally();
    this.examples = [];
  }
  add(kind, r, note = '') {
    this.kinds.add(kind);
    if (this.kinds.get(kind) <= this.keep) {
      this.examples.push({
        kind,
        user: r.shot.user,
        tokenSet: r.shot.tag,
        route: r.shot.route.id,
        front: r.shot.route.front,
        status: r.status,
        error: r.error,
        atMs: Math.round(r.start),
        note,
      });
    }
  }
  get count() {
    let n = 0;
    for (const v of this.kinds.map.values()) n += v;
    return n;
  }
}
