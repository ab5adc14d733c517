import { request } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../log.js';

/** The header through which authz-cache.conf tells the service the NGINX cache key of a decision (hashes, no credentials). */
export const CACHE_KEY_HEADER = 'x-authz-cache-key';

/** Keys remembered at most, and their characters: beyond either the oldest are forgotten, and their entries simply expire (nginx.cacheSeconds). */
const MAX_KEYS = 20_000;
const MAX_CHARACTERS = 4_000_000;
/** Longest key accepted (a few hashes, the server, the method and a URI up to request.maxUriLength). */
const MAX_KEY_LENGTH = 9_000;
/** A purge of the same keys again this much later, for an answer NGINX stored just after the first purge. */
const SECOND_PASS_MS = 1_000;

/**
 * Ends a user's entries in NGINX's decision cache at once (sign-out; any caller that knows the
 * subject, such as a back-channel logout), instead of letting them expire within
 * `nginx.cacheSeconds`. NGINX's cache-purge module as Debian ships it (ngx_cache_purge 2.3)
 * purges one exact key per request and has no wildcard, so the service remembers, per key it
 * allowed NGINX to cache, whose it was (for as long as NGINX may keep it), and asks
 * `nginx.purgeUrl` (authz-cache-purge.conf, loopback only) to purge each of them.
 *
 * Best effort by design: a key forgotten (more than {@link MAX_KEYS} keys or 4 M characters within the TTL)
 * or a purge that fails leaves the entry to expire, which is the documented bound anyway.
 */
export class NginxPurger {
  /** cache key → subject, each for as long as NGINX may keep that entry. */
  private readonly keys: LRUCache<string, string>;

  constructor(
    private readonly purgeUrl: URL,
    cacheSeconds: number,
    private readonly log: Logger,
    private readonly timeoutMs = 2_000,
  ) {
    this.keys = new LRUCache({
      max: MAX_KEYS,
      maxSize: MAX_CHARACTERS,
      sizeCalculation: (subject, key) => key.length + subject.length,
      ttl: Math.max(1, cacheSeconds + 1) * 1000,
      ttlAutopurge: false,
    });
  }

  /** Remembers that NGINX may cache `key` (the header's value) for `subject`. */
  remember(key: string | string[] | undefined, subject: string): void {
    // "-": authz-cache-plain.conf's marker (its key holds credentials and is not sent).
    if (typeof key !== 'string' || key === '' || key === '-' || key.length > MAX_KEY_LENGTH) return;
    this.keys.set(key, subject);
  }

  /**
   * Purges every remembered entry of `subject` now and once more a second later.
   * @returns how many entries NGINX reported purged in the first pass (the others had expired or were not stored)
   */
  async purgeSubject(subject: string): Promise<number> {
    const keys: string[] = [];
    for (const [key, owner] of this.keys.entries()) if (owner === subject) keys.push(key);
    if (keys.length === 0) return 0;
    const purged = await this.purgeAll(keys);
    setTimeout(() => void this.purgeAll(keys), SECOND_PASS_MS).unref();
    this.log.info({ keys: keys.length, purged }, 'NGINX decision cache: purged a signed-out subject’s entries');
    return purged;
  }

  private async purgeAll(keys: readonly string[]): Promise<number> {
    const results = await Promise.all(keys.map((key) => this.purge(key)));
    return results.filter(Boolean).length;
  }

  /** One purge request: true when NGINX purged an entry (200), false when it had none (404) or failed. */
  private purge(key: string): Promise<boolean> {
    return new Promise((resolve) => {
      const failed = (error: Error) => {
        this.log.warn({ err: { message: error.message } }, 'NGINX decision cache: purge request failed; the entry expires on its own');
        resolve(false);
      };
      let req: ReturnType<typeof request>;
      try {
        req = request(this.purgeUrl, { method: 'GET', headers: { 'X-Authz-Cache-Key': key }, timeout: this.timeoutMs }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
        });
      } catch (error) {
        failed(error as Error); // a key Node refuses as a header value
        return;
      }
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', failed);
      req.end();
    });
  }
}
