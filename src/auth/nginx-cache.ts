/**
 * How long NGINX's optional decision cache (nginx/snippets/authz-cache.conf) may keep one answer
 * of /auth, sent as `X-Accel-Expires: <seconds>` on every answer. NGINX caches an answer only
 * when this header says a positive number (the snippet sets no `proxy_cache_valid` and ignores
 * `Cache-Control`/`Expires`), so every answer that must not be reused carries `0`.
 *
 * The cache key is the credentials (Authorization and the whole Cookie header), the method and the
 * URI; whatever else an answer depends on makes it uncacheable here.
 */

/** The header NGINX reads (and never passes to a client). */
export const ACCEL_EXPIRES = 'X-Accel-Expires';

/** Where the caller's access token came from (step 3 of /auth). */
export type CredentialSource = 'none' | 'bearer' | 'session' | 'basic';

/** What the answer's cacheability depends on, gathered while deciding. */
export interface CacheFacts {
  /** The answer is an allow (every refusal, challenge and error is `0`). */
  allowed: boolean;
  credential: CredentialSource;
  /**
   * The token was obtained asynchronously: a session refresh, a Basic exchange, or the first
   * opening of a session cookie. A refresh changes the session; it is never worth caching.
   */
  renewed: boolean;
  /** The original method is not GET/HEAD/OPTIONS (a session cookie's is decided on Origin/Referer too). */
  unsafeMethod: boolean;
  /** The request carried `X-Amz-Copy-Source` (decided too, and not in the key). */
  copySource: boolean;
  /** The token's expiry (ms since the epoch); undefined for an allowed public route without a token. */
  tokenExpiresAtMs: number | undefined;
  /** When the service's own remembered decision ends (ms); undefined when decided without the decision cache. */
  decisionExpiresAtMs: number | undefined;
}

/**
 * Seconds NGINX may keep an answer: 0 unless it is an allow NGINX can reuse safely, else such
 * that NGINX serves it no longer than the least of `maxSeconds` (`nginx.cacheSeconds`), the
 * service's allow TTL, the time left on the service's own remembered decision and the time left
 * on the token (NGINX's whole-second clock makes that one second less than the least of them,
 * rounded down: `maxSeconds` 5 sends 4, and `maxSeconds` 1 caches nothing).
 *
 * Never cached:
 * - refusals, challenges, lockouts, errors (a newly granted permission must work at once, and a
 *   lockout's Retry-After must be current);
 * - Basic credentials: the key would hold the password (in plain text in the fallback variant,
 *   as an unsalted hash open to guessing in the hashed one), and each attempt must reach the
 *   per-address failure limits;
 * - a session cookie on an unsafe method: its CSRF check reads Origin/Referer/Sec-Fetch-Site,
 *   which are not in the key;
 * - S3 copies: the copy source is decided too and is not in the key;
 * - a token obtained by a session refresh or an exchange (only the next, plain answer is cached).
 */
export function nginxCacheSeconds(facts: CacheFacts, maxSeconds: number, allowTtlSeconds: number, nowMs: number): number {
  if (!facts.allowed || maxSeconds <= 0) return 0;
  if (facts.credential === 'basic' || facts.renewed || facts.copySource) return 0;
  if (facts.credential === 'session' && facts.unsafeMethod) return 0;
  let untilMs = nowMs + Math.min(maxSeconds, allowTtlSeconds) * 1000;
  if (facts.tokenExpiresAtMs !== undefined) untilMs = Math.min(untilMs, facts.tokenExpiresAtMs);
  if (facts.decisionExpiresAtMs !== undefined) untilMs = Math.min(untilMs, facts.decisionExpiresAtMs);
  // NGINX counts whole seconds: an answer stored during second `s` with `X-Accel-Expires: n` is served until second
  // s + n has ended. So n = (last whole second before untilMs) − s − 1, with `s` taken a little later than now for
  // the time the answer takes to reach NGINX. The entry then never outlives untilMs (and lives n to n + 1 seconds).
  const storedSecond = Math.floor((nowMs + STORE_MARGIN_MS) / 1000);
  return Math.max(0, Math.floor(untilMs / 1000) - storedSecond - 1);
}

/** How much later than the service's answer NGINX may timestamp it (same host, loopback). */
const STORE_MARGIN_MS = 50;

/**
 * The header values 0..max, made once: the allow path sets a ready string instead of
 * formatting a number per request.
 */
export function accelExpiresValues(maxSeconds: number): readonly string[] {
  return Array.from({ length: Math.max(0, maxSeconds) + 1 }, (_, seconds) => String(seconds));
}
