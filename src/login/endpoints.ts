import type { IncomingMessage } from 'node:http';
import { Router, type Request, type Response } from 'express';
import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { AuthzError } from '../errors.js';
import { isRefused, runGrant } from '../idp/grants.js';
import type { IdentityProvider } from '../idp/provider.js';
import type { Logger } from '../log.js';
import type { NginxPurger } from '../auth/nginx-purge.js';
import { decodeJwt } from 'jose';
import type { Metrics } from '../ops/metrics.js';
import { readCookie, serializeCookie } from '../session/cookie-header.js';
import type { Sessions } from '../session/sessions.js';
import type { Session } from '../session/store.js';
import { PendingLoginCookie } from './pending.js';
import { provenance } from './origin.js';
import { cookieSecure, publicBase, safeReturnTo } from './return-to.js';

export interface LoginDependencies {
  config: Config;
  provider: IdentityProvider;
  sessions: Sessions;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** Set with `nginx.purgeUrl`: a sign-out also purges the user's entries in NGINX's decision cache. */
  purger?: NginxPurger | undefined;
}

/**
 * Browser login (`login.enabled`), with openid-client on the service's confidential client:
 *
 * - `GET /oauth2/start?rd=<target>`: authorization code flow with PKCE (S256), state and nonce
 *   (RFC 9700 §2.1.1); the pending login rides in a short-lived encrypted cookie. NGINX sends
 *   unauthenticated browser navigations here with the original URI in X-Original-URI.
 * - `GET /oauth2/callback`: checks state, exchanges the code (nonce and ID token checked by
 *   openid-client), opens a server-side session, sets the session cookie, returns to `rd`.
 * - `GET|POST /oauth2/sign_out`: ends the session here at once, then at the IdP
 *   (RP-initiated logout with `id_token_hint`), which returns to `login.postLogoutPath`.
 */
export function loginEndpoints(deps: LoginDependencies): Router {
  const { config, provider, sessions, metrics, log } = deps;
  const { login } = config;
  const pending = new PendingLoginCookie(config.session.secret, login.stateTtlSeconds * 1000, deps.clock);
  const router = Router();

  /** The external base URL and the IdP's metadata, or an answer explaining why not. */
  function prerequisites(req: Request, res: Response): { base: URL; idp: oidc.Configuration } | undefined {
    const base = publicBase(req as IncomingMessage, login.publicUrl, login.allowedHosts);
    if (base === undefined) {
      log.warn(
        { host: req.headers['x-forwarded-host'] ?? req.headers.host },
        'login: host not allowed (set login.publicUrl or login.allowedHosts)',
      );
      page(res, 400, 'This host is not configured for login.');
      return undefined;
    }
    const idp = provider.configuration;
    if (idp === undefined) {
      page(res, 503, 'The identity provider is not available yet; try again shortly.');
      return undefined;
    }
    return { base, idp };
  }

  router.get('/oauth2/start', async (req, res) => {
    const ready = prerequisites(req, res);
    if (ready === undefined) return;
    const { base, idp } = ready;
    // Sent by NGINX's login hand-off (snippets/authz-errors.conf); a direct visit uses ?rd=.
    const original = req.headers['x-original-uri'];
    const rd =
      typeof original === 'string' && original !== '' && !original.startsWith('/oauth2/') ? original : (query(req).get('rd') ?? undefined);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const redirectUri = new URL('oauth2/callback', base).href;
    const target = oidc.buildAuthorizationUrl(idp, {
      redirect_uri: redirectUri,
      scope: login.scope,
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    const sealed = await pending.seal({ state, nonce, codeVerifier, returnTo: safeReturnTo(rd, base, login.allowedHosts), redirectUri });
    const secure = cookieSecure(base);
    // Too many logins under way in this browser (tabs left on the login page): forget the older ones.
    const earlier = PendingLoginCookie.namesIn(req.headers.cookie);
    const dropped = earlier.length >= PendingLoginCookie.MAX_PENDING ? earlier : [];
    res.setHeader('Set-Cookie', [
      ...dropped.map((name) => serializeCookie(name, '', { secure, path: '/oauth2/', maxAgeSeconds: 0 })),
      serializeCookie(PendingLoginCookie.nameFor(state), sealed, { secure, path: '/oauth2/', maxAgeSeconds: login.stateTtlSeconds }),
    ]);
    redirect(res, target.href);
  });

  router.get('/oauth2/callback', async (req, res) => {
    const ready = prerequisites(req, res);
    if (ready === undefined) return;
    const { base, idp } = ready;
    // The pending login of the state the IdP sent back (each login has its own cookie).
    const pendingName = PendingLoginCookie.nameFor(query(req).get('state') ?? '');
    const clearPending = serializeCookie(pendingName, '', { secure: cookieSecure(base), path: '/oauth2/', maxAgeSeconds: 0 });
    const started = await pending.open(readCookie(req.headers.cookie, pendingName));
    if (started === undefined) {
      metrics.logins.labels('invalid_state').inc();
      res.setHeader('Set-Cookie', clearPending);
      page(res, 400, 'This login expired or was started in another browser.', '/oauth2/start?rd=%2F');
      return;
    }
    const callbackUrl = new URL(started.redirectUri);
    callbackUrl.search = new URL(req.url, 'http://callback.invalid').search;
    let outcome: Awaited<ReturnType<typeof runGrant>>;
    try {
      outcome = await runGrant(
        () =>
          oidc.authorizationCodeGrant(
            idp,
            callbackUrl,
            { pkceCodeVerifier: started.codeVerifier, expectedState: started.state, expectedNonce: started.nonce, idTokenExpected: true },
            { redirect_uri: started.redirectUri },
          ),
        deps.clock,
        'authorization code grant',
      );
    } catch (error) {
      metrics.logins.labels('idp_error').inc();
      log.warn(
        { err: { message: (error as Error).message, detail: error instanceof AuthzError ? error.detail : undefined } },
        'login: code exchange failed',
      );
      res.setHeader('Set-Cookie', clearPending);
      page(res, 503, 'The identity provider did not answer; try again shortly.', startLink(started.returnTo));
      return;
    }
    if (isRefused(outcome)) {
      metrics.logins.labels('refused').inc();
      log.info({ oauth_error: outcome.refused }, 'login: refused');
      res.setHeader('Set-Cookie', clearPending);
      page(res, 401, 'Login did not complete.', startLink(started.returnTo));
      return;
    }
    let session: Session;
    try {
      session = await sessions.store.create(outcome);
    } catch (error) {
      // The shared session store (Redis) is down: no session can be kept, so none is issued.
      metrics.logins.labels('store_unavailable').inc();
      log.error({ err: { message: (error as Error).message } }, 'login: session store unavailable; answering 503');
      res.setHeader('Set-Cookie', clearPending);
      page(res, 503, 'Sessions cannot be stored right now; try again shortly.', startLink(started.returnTo));
      return;
    }
    const value = await sessions.cookie.seal(session.id, session.absoluteExpiresAtMs);
    res.setHeader('Set-Cookie', [
      clearPending,
      serializeCookie(sessions.cookieName, value, {
        secure: cookieSecure(base),
        path: '/',
        maxAgeSeconds: config.session.absoluteTimeoutSeconds,
      }),
    ]);
    metrics.logins.labels('ok').inc();
    // Checked again on the value about to be sent (a pending cookie sealed by an older version may hold anything valid then).
    redirect(res, safeReturnTo(started.returnTo, base, login.allowedHosts));
  });

  const signOut = async (req: Request, res: Response): Promise<void> => {
    const base = publicBase(req as IncomingMessage, login.publicUrl, login.allowedHosts);
    if (base === undefined) {
      page(res, 400, 'This host is not configured for login.');
      return;
    }
    // Fetch Metadata, else Origin, else Referer; a request that shows none of them (an old
    // browser on a no-referrer page looks like curl) is asked to confirm too: one click.
    const origin = provenance(req.headers, base);
    if (origin !== 'same-origin') {
      // Logout CSRF: another site's link, image or form must not end the session. The user
      // confirms with a same-origin POST instead (see login/origin.ts).
      log.info({ origin }, 'sign-out: not shown to be same-origin; asking for confirmation');
      confirmSignOut(res);
      return;
    }
    let session: Session | undefined;
    try {
      session = await sessions.find(req.headers.cookie);
      if (session !== undefined) await sessions.store.delete(session.id);
    } catch (error) {
      // Redis down: the session could not be ended on every replica; say so rather than pretend.
      log.error({ err: { message: (error as Error).message } }, 'sign-out: session store unavailable; answering 503');
      page(res, 503, 'Sign-out could not be completed right now; try again shortly.');
      return;
    }
    if (session !== undefined) {
      // NGINX's decision cache may still hold allows for this cookie: purged before the answer, so that the browser's
      // next request is refused (loopback, bounded by the purger's timeout; a failure leaves them to expire).
      const subject = deps.purger === undefined ? undefined : subjectOf(session.tokens.accessToken);
      if (subject !== undefined) await deps.purger!.purgeSubject(subject);
    }
    res.setHeader('Set-Cookie', serializeCookie(sessions.cookieName, '', { secure: cookieSecure(base), path: '/', maxAgeSeconds: 0 }));
    const afterLogout = new URL(login.postLogoutPath.slice(1), base).href;
    const idp = provider.configuration;
    const idToken = session?.tokens.idToken;
    if (idp === undefined || idToken === undefined || idp.serverMetadata().end_session_endpoint === undefined) {
      redirect(res, afterLogout);
      return;
    }
    // RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): ends the IdP session too.
    redirect(res, oidc.buildEndSessionUrl(idp, { id_token_hint: idToken, post_logout_redirect_uri: afterLogout }).href);
  };
  router.get('/oauth2/sign_out', signOut);
  router.post('/oauth2/sign_out', signOut);
  return router;
}

/** The `sub` of the session's own access token (verified when it was obtained); undefined if it is not a JWT. */
function subjectOf(accessToken: string): string | undefined {
  try {
    const { sub } = decodeJwt(accessToken);
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

function query(req: Request): URLSearchParams {
  return new URL(req.url, 'http://query.invalid').searchParams;
}

function startLink(returnTo: string): string {
  return `/oauth2/start?${new URLSearchParams({ rd: returnTo }).toString()}`;
}

function confirmSignOut(res: Response): void {
  res.status(200).setHeader('Cache-Control', 'no-store');
  res
    .type('html')
    .send(
      '<!doctype html><meta charset="utf-8"><title>Sign out</title><form method="post" action="/oauth2/sign_out"><button type="submit">Sign out of MLflow</button></form>',
    );
}

/** HTML text and attribute escaping for the few values these pages show. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A 302 whose Location is exactly `location` (Express's res.redirect would re-encode it after it was checked). */
function redirect(res: Response, location: string): void {
  res.status(302).setHeader('Cache-Control', 'no-store');
  res.setHeader('Location', location);
  res.end();
}

/** A minimal page for login errors: no detail beyond what the user can act on. */
function page(res: Response, status: number, message: string, retry?: string): void {
  res.status(status).setHeader('Cache-Control', 'no-store');
  res
    .type('html')
    .send(
      `<!doctype html><meta charset="utf-8"><title>Sign-in</title><p>${escapeHtml(message)}</p>${retry === undefined ? '' : `<p><a href="${escapeHtml(retry)}">Sign in again</a></p>`}`,
    );
}
