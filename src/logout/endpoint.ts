import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { InvalidLogoutToken, verifyLogoutToken, type LogoutTokenOptions } from './logout-token.js';
import type { LogoutBroadcaster, Revoker } from './revoke.js';

/** The path Keycloak posts logout tokens to (the clients' `backchannel.logout.url`). */
export const BACKCHANNEL_LOGOUT_PATH = '/oauth2/backchannel-logout';

/** A logout token is well under 2 KB; the form body is refused beyond this. */
const MAX_BODY = '16kb';

export interface BackchannelDeps {
  verify: LogoutTokenOptions;
  revoker: Revoker;
  broadcast: LogoutBroadcaster;
  metrics: Metrics;
  log: Logger;
}

/**
 * `POST /oauth2/backchannel-logout` (OIDC Back-Channel Logout 1.0): a form body with
 * `logout_token`, verified (logout-token.ts), then applied here ({@link Revoker.revoke}) and
 * handed to the broadcaster for the other replicas. 200 with `Cache-Control: no-store` once
 * applied; 400 `invalid_request` for anything else (malformed body, any failed check, a
 * replayed `jti`), with a log line that never holds the token. A failing broadcaster is logged
 * and does not undo the local logout (the IdP would only resend what this replica applied).
 */
export function backchannelLogout(deps: BackchannelDeps): Router {
  const router = express.Router();
  const outcomes = {
    ok: deps.metrics.backchannelLogouts.labels('ok'),
    invalid: deps.metrics.backchannelLogouts.labels('invalid'),
    replayed: deps.metrics.backchannelLogouts.labels('replayed'),
  };
  const refuse = (res: Response, reason: string, kind: 'invalid' | 'replayed'): void => {
    outcomes[kind].inc();
    deps.log.warn({ reason }, 'back-channel logout refused');
    res.status(400).setHeader('Cache-Control', 'no-store').json({ error: 'invalid_request' });
  };
  router.post(
    BACKCHANNEL_LOGOUT_PATH,
    express.urlencoded({ extended: false, limit: MAX_BODY, parameterLimit: 10 }),
    async (req: Request, res: Response) => {
      const body = req.body as Record<string, unknown> | undefined;
      const token = body?.logout_token;
      if (typeof token !== 'string' || token === '') return refuse(res, 'no logout_token in a form body', 'invalid');
      try {
        const target = await verifyLogoutToken(token, deps.verify);
        const purged = await deps.revoker.revoke(target);
        for (const [kind, count] of [
          ['session', purged.sessions],
          ['token', purged.tokens],
          ['decision', purged.decisions],
          ['basic', purged.basic],
        ] as const)
          if (count > 0) deps.metrics.logoutPurged.labels(kind).inc(count);
        outcomes.ok.inc();
        // sub and sid are opaque identifiers, not credentials; logged so an operator can trace a sign-out.
        deps.log.info({ sub: target.sub, sid: target.sid, ...purged }, 'back-channel logout applied');
        deps.broadcast({ kind: 'logout', ...target }).catch((error: unknown) => {
          deps.log.error({ err: (error as Error).message }, 'back-channel logout not broadcast to the other replicas');
        });
        res.status(200).setHeader('Cache-Control', 'no-store').end();
      } catch (error) {
        if (error instanceof InvalidLogoutToken) return refuse(res, error.reason, error.kind);
        // Not the token's fault (a store failed): 500, so the IdP's log shows the logout did not go through.
        deps.metrics.backchannelLogouts.labels('error').inc();
        deps.log.error({ err: (error as Error).message }, 'back-channel logout failed');
        res.status(500).setHeader('Cache-Control', 'no-store').json({ error: 'server_error' });
      }
    },
  );
  // Bad bodies (too large, bad encoding, too many fields): the parser's errors end here, as a 400.
  router.use(BACKCHANNEL_LOGOUT_PATH, (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error === undefined) return next();
    refuse(res, `unreadable body: ${(error as { type?: string }).type ?? 'malformed'}`, 'invalid');
  });
  router.all(BACKCHANNEL_LOGOUT_PATH, (_req, res) => {
    res.status(405).setHeader('Allow', 'POST').json({ error: 'invalid_request' });
  });
  return router;
}
