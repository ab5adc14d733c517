import type { Clock } from '../clock.js';
import { RateLimited } from '../errors.js';
import type { Logger } from '../log.js';
import { MeteredLru } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import type { Identity } from '../tokens/verify.js';

/** Which kind of IdP lookup a subject asked for (the `lookup` label of `authz_rate_limited_total`). */
export type LookupKind = 'decision' | 'resource_name' | 'resource_uri' | 'ticket';

export interface LimiterSettings {
  /** Lookups a subject may make at once (the bucket's size). */
  burst: number;
  /** Lookups a subject regains per second. */
  perSecond: number;
  /** Subjects tracked at most (LRU): the limiter's state is bounded whatever the traffic. */
  maxSubjects: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
  /** When this subject's refusal was last logged: one warning a minute per subject, not one per request. */
  warnedAtMs: number;
}

const WARN_EVERY_MS = 60_000;

/**
 * A token bucket per subject for IdP lookups whose target the request names: per-object
 * resources (`experiment:<id>`), templated resources (`bucket:<name>`), paths resolved in
 * Keycloak (`routes.fromKeycloak`). Those targets are unbounded, so without a limit one
 * authenticated user could make the service call the IdP once per request it invents.
 * Lookups for the route table's own resources are bounded by the table and never counted.
 *
 * Only misses reach the limiter (cached answers, found or not, cost nothing), and a refusal
 * is not an answer: it is never cached, so the subject gets the real decision once its
 * bucket refills. A subject is its issuer's id + `sub`. The buckets live in an LRU of
 * `maxSubjects`: a forgotten subject starts again with a full bucket, which only many
 * distinct authenticated subjects could cause.
 */
export class SubjectLimiter {
  private readonly buckets: MeteredLru<Bucket>;
  private readonly refused;

  constructor(
    private readonly settings: LimiterSettings,
    metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.buckets = new MeteredLru(
      'subject_limit',
      { maxEntries: settings.maxSubjects, maxBytes: settings.maxSubjects * 400, sizeOf: () => 80 },
      metrics,
    );
    this.refused = {
      decision: metrics.rateLimited.labels('decision'),
      resource_name: metrics.rateLimited.labels('resource_name'),
      resource_uri: metrics.rateLimited.labels('resource_uri'),
      ticket: metrics.rateLimited.labels('ticket'),
    };
  }

  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes one lookup from the caller's bucket.
   * @throws {RateLimited} when the bucket is empty (with the seconds until one lookup is back)
   */
  take(caller: Identity, kind: LookupKind): void {
    const now = this.clock();
    const key = `${caller.issuer?.settings.id ?? 'primary'}\u0000${caller.subject}`;
    const { burst, perSecond } = this.settings;
    let bucket = this.buckets.lookup(key, () => true);
    if (bucket === undefined) {
      bucket = { tokens: burst, atMs: now, warnedAtMs: 0 };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.atMs) / 1000) * perSecond);
      bucket.atMs = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    this.refused[kind].inc();
    if (now - bucket.warnedAtMs >= WARN_EVERY_MS) {
      bucket.warnedAtMs = now;
      this.log.warn(
        { user: caller.username ?? caller.subject, lookup: kind, burst, per_second: perSecond },
        'subject exceeds its IdP lookup rate; refusing lookups until its bucket refills (429 through NGINX)',
      );
    }
    throw new RateLimited(Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)), {
      detail: `${kind} lookups over ${perSecond}/s (burst ${burst}) for this subject`,
    });
  }
}
