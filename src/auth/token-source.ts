import type { IncomingMessage } from 'node:http';
import type { BasicExchange } from '../basic/exchange.js';
import type { Config } from '../config/schema.js';
import { CrossOriginRequest, Unauthenticated } from '../errors.js';
import type { Logger } from '../log.js';
import { crossOriginRefusal, isUnsafeMethod } from '../login/origin.js';
import { publicBase, siteBase } from '../login/return-to.js';
import type { OriginalRequest } from '../request/original.js';
import type { Sessions } from '../session/sessions.js';
import { extractCredentials, type Credentials } from './credentials.js';

/** What the CSRF check of session-authenticated requests needs: the site's origin and a log. */
export interface SiteCheck {
  login: Pick<Config['login'], 'publicUrl' | 'allowedHosts'>;
  log: Logger;
}

/**
 * Step 3 of /auth, credentials → access token, in this order: a Bearer token as sent; else
 * the browser session's token (cookie); else Basic credentials exchanged at the IdP (when
 * `basic.enabled`). Whatever the source, the token is then verified and decided on exactly
 * like a bearer token. Synchronous whenever the answer is already known (cached session or
 * exchange), so the pipeline's fast path stays free of awaits.
 *
 * A token that came from the session cookie, which the browser attaches to requests any page
 * starts, is used for a state-changing method only when the request shows it came from this
 * site (login/origin.ts); a Bearer or Basic header is never attached by a browser on its own.
 */
export class TokenSource {
  constructor(
    private readonly sessions: Sessions | undefined,
    private readonly basic: BasicExchange | undefined,
    private readonly site?: SiteCheck,
  ) {}

  /** @throws {Unauthenticated} no usable credentials; {CrossOriginRequest} see above; see also BasicExchange.token */
  tokenOf(req: IncomingMessage, original?: OriginalRequest): string | Promise<string> {
    const authorization = req.headers.authorization;
    const credentials = authorization === undefined || authorization === '' ? undefined : extractCredentials(authorization);
    if (credentials?.kind === 'bearer') return credentials.token;
    const fromSession = this.sessions?.accessToken(req.headers.cookie);
    if (typeof fromSession === 'string') return this.sameOrigin(req, fromSession, original);
    if (fromSession instanceof Promise)
      return fromSession.then((token) =>
        token === undefined ? this.fromBasic(credentials, original, req) : this.sameOrigin(req, token, original),
      );
    return this.fromBasic(credentials, original, req);
  }

  /** The session's token, unless a state-changing request does not show it came from this site. */
  private sameOrigin(req: IncomingMessage, token: string, original: OriginalRequest | undefined): string {
    const method = req.headers['x-original-method'];
    if (typeof method === 'string' && !isUnsafeMethod(method)) return token;
    // No site configured (unit tests of other steps): nothing to compare with, so nothing passes.
    const base = this.site === undefined ? undefined : this.siteOf(req, original, this.site.login);
    const refusal = crossOriginRefusal(req.headers, base);
    if (refusal === undefined) return token;
    this.site?.log.warn({ method, reason: refusal }, 'session-cookie request refused: not shown to come from this site (CSRF check)');
    throw new CrossOriginRequest({ detail: refusal });
  }

  /**
   * This site's origin for the CSRF check: under ingress-nginx, the origin of X-Original-URL (the
   * controller passes a client's X-Forwarded-Host on untouched), its host allowed as for login;
   * otherwise what the NGINX snippets forward (login/return-to.ts).
   */
  private siteOf(req: IncomingMessage, original: OriginalRequest | undefined, login: SiteCheck['login']): URL | undefined {
    if (original?.origin === undefined) return publicBase(req, login.publicUrl, login.allowedHosts);
    return siteBase(new URL(original.origin), login.publicUrl, login.allowedHosts);
  }

  private fromBasic(
    credentials: Credentials | undefined,
    original: OriginalRequest | undefined,
    req: IncomingMessage,
  ): string | Promise<string> {
    if (credentials === undefined) throw new Unauthenticated('no_credentials');
    if (credentials.kind !== 'basic') return credentials.token;
    if (this.basic === undefined)
      throw new Unauthenticated('unsupported_credentials', { detail: 'Basic credentials are not enabled (basic.enabled)' });
    // The address the proxy itself saw (request/original.ts: X-Original-Remote-Addr from the snippets, X-Real-IP from
    // ingress-nginx); never the client-written part of X-Forwarded-For.
    const address = original === undefined ? req.headers['x-original-remote-addr'] : original.clientAddress;
    return this.basic.token(
      credentials.username,
      credentials.password,
      typeof address === 'string' && address !== '' ? address : undefined,
    );
  }
}
