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
 */
export class PendingLoginCookie {
  static readonly NAME = 'nginx_authz_login';
  private readonly sealer: CookieSealer;

  constructor(secret: string | undefined, private readonly ttlMs: number, private readonly clock: Clock) {
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
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string' || typeof returnTo !== 'string' || typeof redirectUri !== 'string') return undefined;
    return { state, nonce, codeVerifier, returnTo, redirectUri };
  }
}
