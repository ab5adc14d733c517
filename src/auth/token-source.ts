import type { IncomingMessage } from 'node:http';
import type { BasicExchange } from '../basic/exchange.js';
import { Unauthenticated } from '../errors.js';
import type { Sessions } from '../session/sessions.js';
import { extractCredentials, type Credentials } from './credentials.js';

/**
 * Step 3 of /auth, credentials → access token, in this order: a Bearer token as sent; else
 * the browser session's token (cookie); else Basic credentials exchanged at the IdP (when
 * `basic.enabled`). Whatever the source, the token is then verified and decided on exactly
 * like a bearer token. Synchronous whenever the answer is already known (cached session or
 * exchange), so the pipeline's fast path stays free of awaits.
 */
export class TokenSource {
  constructor(private readonly sessions: Sessions | undefined, private readonly basic: BasicExchange | undefined) {}

  /** @throws {Unauthenticated} no usable credentials; see also BasicExchange.token */
  resolve(req: IncomingMessage): string | Promise<string> {
    const authorization = req.headers.authorization;
    const credentials = authorization === undefined || authorization === '' ? undefined : extractCredentials(authorization);
    if (credentials?.kind === 'bearer') return credentials.token;
    const fromSession = this.sessions?.accessToken(req.headers.cookie);
    if (typeof fromSession === 'string') return fromSession;
    if (fromSession instanceof Promise) return fromSession.then((token) => token ?? this.fromBasic(req, credentials));
    return this.fromBasic(req, credentials);
  }

  private fromBasic(req: IncomingMessage, credentials: Credentials | undefined): string | Promise<string> {
    if (credentials === undefined) throw new Unauthenticated('no_credentials');
    if (credentials.kind !== 'basic') return credentials.token;
    if (this.basic === undefined) throw new Unauthenticated('unsupported_credentials', { detail: 'Basic credentials are not enabled (basic.enabled)' });
    // NGINX's $remote_addr, set by the subrequest snippet; never X-Forwarded-For, which clients write.
    const address = req.headers['x-original-remote-addr'];
    return this.basic.token(credentials.username, credentials.password, typeof address === 'string' && address !== '' ? address : undefined);
  }
}
