import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { CookieSealer } from './crypto.js';

interface OpenedCookie {
  sessionId: string;
  expiresAtMs: number;
}

/**
 * The session cookie's value: a JWE holding only the session id, expiring with the session's
 * absolute timeout. Decrypting costs ~0.17 ms (scripts/bench-session.mjs), too much for every
 * /auth of a browser; so opened values are remembered by a hash of the cookie (a small LRU)
 * and the hot path is a hash and a map lookup, synchronous (~2 µs).
 */
export class SessionCookie {
  private readonly sealer: CookieSealer;
  private readonly opened: LRUCache<string, OpenedCookie>;

  constructor(
    secret: string | undefined,
    maxEntries: number,
    private readonly clock: Clock,
  ) {
    this.sealer = new CookieSealer(secret, 'nginx-authz-session');
    this.opened = new LRUCache<string, OpenedCookie>({ max: maxEntries });
  }

  seal(sessionId: string, expiresAtMs: number): Promise<string> {
    return this.sealer.seal({ sid: sessionId }, expiresAtMs);
  }

  /**
   * The session id in a cookie value: synchronously when this value was opened before,
   * otherwise after decrypting it. undefined for a cookie that is invalid or expired.
   */
  sessionId(value: string): string | undefined | Promise<string | undefined> {
    const key = createHash('sha256').update(value).digest('base64url');
    const known = this.opened.get(key);
    if (known !== undefined) return this.clock() < known.expiresAtMs ? known.sessionId : undefined;
    return this.sealer.open(value, this.clock()).then((claims) => {
      if (claims === undefined || typeof claims.sid !== 'string' || typeof claims.exp !== 'number') return undefined;
      this.opened.set(key, { sessionId: claims.sid, expiresAtMs: claims.exp * 1000 });
      return claims.sid;
    });
  }
}
