import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/schema.js';
import { healthz, readyz } from '../ops/health.js';
import type { Metrics } from '../ops/metrics.js';

// Part of src/app.ts's wiring: which code answers which path. /auth is dispatched before express
// (see the handler below); every other endpoint is an express route, mounted here in order.

/** The handlers the HTTP side mounts, each built by its own part. */
export interface Endpoints {
  /** The /auth decision pipeline (src/auth/pipeline.ts). */
  auth: (req: IncomingMessage, res: ServerResponse) => void;
  /** `POST /oauth2/backchannel-logout`. */
  backchannelLogout: Router;
  /** The browser login endpoints; undefined unless `login.enabled`. */
  login: Router | undefined;
  metrics: Metrics;
  notReady: () => string[];
}

/** The express app, and the node:http listener in front of it. */
export interface HttpParts {
  /** The request listener for node:http: /auth directly, everything else through express. */
  handler: RequestListener;
  app: Express;
}

/** Mounts /auth, the back-channel logout, the login (or its 401 stand-in), health, readiness and metrics. */
export function buildHttp(config: Config, endpoints: Endpoints): HttpParts {
  const { auth, metrics } = endpoints;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);

  app.all(['/auth', '/auth/:table'], auth);
  // No upgrade-insecure-requests: the login pages' links must keep working on a plain-http loopback site.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(endpoints.backchannelLogout);
  if (endpoints.login !== undefined) app.use(endpoints.login);
  else {
    // NGINX hands browsers without a session to /oauth2/start; with login off they get the API's 401.
    app.use('/oauth2', (_req, res) => {
      res.status(401).setHeader('WWW-Authenticate', `Bearer realm="${config.issuer.challengeRealm}"`);
      res.json({ error_code: 'UNAUTHENTICATED', message: 'Authentication required (browser login is not enabled)' });
    });
  }
  app.get('/healthz', healthz);
  app.get('/readyz', readyz(endpoints.notReady));
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });
  // /auth runs for every request NGINX serves and answers NGINX alone (only the status and a
  // few headers reach anyone), so it is dispatched before express: measured on these 2-core
  // machines, express's router alone caps a trivial handler at ~5k requests/s where plain
  // node:http serves ~20k (README, "Speed").
  const handler: RequestListener = (req, res) => {
    const url = req.url ?? '';
    // `/auth` and `/auth/<table>`: the decision path NGINX proxies to names the route table.
    if (url === '/auth' || url.startsWith('/auth?') || url.startsWith('/auth/')) void auth(req, res);
    else app(req, res);
  };
  return { handler, app };
}
