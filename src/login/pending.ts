import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { CookieSealer } from '../session/crypto.js';

/** What a login needs to remember between /oauth2/start and /oauth2/callback. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The validated return target. */
  returnTo: string;
  redirectUri: string;
}

/**
 * The pending login, in a short-lived encrypted cookie rather than in server memory: nothing
 * to store for logins that never come back, and the callback may reach another replica when
 * `session.secret` is shared. Path=/oauth2/ so it only travels to the login endpoints.
 *
 * One cookie per login, named after its `state` ({@link nameFor}): when an expired session
 * sends several open MLflow tabs to login at once, each tab's callback finds its own pending
 * login instead of the last one started. At most {@link MAX_PENDING} travel at a time, so the
 * Cookie header stays within NGINX's 8 KB header buffers.
 */
export class PendingLoginCookie {
  static readonly PREFIX = 'nginx_authz_login_';
  static readonly MAX_PENDING = 4;

  /** The cookie name of the login started with `state`: a short hash, not the state itself. */
  static nameFor(state: string): string {
    return PendingLoginCookie.PREFIX + createHash('sha256').update(state).digest('base64url').slice(0, 16);
  }

  /** Names of the pending-login cookies a Cookie header carries. */
  static namesIn(header: string | undefined): string[] {
    if (header === undefined) return [];
    return header
      .split(';')
      .map((pair) => pair.split('=', 1)[0]!.trim())
      .filter((name) => name.startsWith(PendingLoginCookie.PREFIX));
  }
  private readonly sealer: CookieSealer;

  constructor(
    secret: string | undefined,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {
    this.sealer = new CookieSealer(secret, 'nginx-authz-login');
  }

  seal(pending: PendingLogin): Promise<string> {
    return this.sealer.seal({ ...pending }, this.clock() + this.ttlMs);
  }

  async open(value: string | undefined): Promise<PendingLogin | undefined> {
    if (value === undefined) return undefined;
    const claims = await this.sealer.open(value, this.clock());
    if (claims === undefined) return undefined;
    const { state, nonce, codeVerifier, returnTo, redirectUri } = claims;
    if (
      typeof state !== 'string' ||
      typeof nonce !== 'string' ||
      typeof codeVerifier !== 'string' ||
      typeof returnTo !== 'string' ||
      typeof redirectUri !== 'string'
    )
      return undefined;
    return { state, nonce, codeVerifier, returnTo, redirectUri };
  }
}
