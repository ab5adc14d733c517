import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { DecisionCache } from '../decide/cache.js';
import type { SubjectLimiter } from '../decide/limiter.js';
import type { PerObjectResolver } from '../decide/per-object.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import type { ServiceName } from '../routes/load.js';
import type { RouteMatcher } from '../routes/match.js';
import type { KeycloakRoutes } from '../routes/remote.js';
import type { TokenVerifier } from '../tokens/verify.js';
import type { NginxPurger } from './nginx-purge.js';
import type { TokenSource } from './token-source.js';

// What the /auth pipeline is built from (src/app.ts hands it over); its own file so that each step
// module (identify.ts, decide.ts) can name the parts it uses without importing the pipeline.

/** The parts the /auth handler uses, built once by src/app.ts. */
export interface AuthDependencies {
  config: Config;
  matchers: ReadonlyMap<ServiceName, RouteMatcher>;
  verifier: TokenVerifier;
  /** Step 3: Bearer header, browser session or exchanged Basic credentials → access token. */
  tokens: TokenSource;
  cache: DecisionCache;
  /** Set when `uma.perObject` is on: requests naming their experiment are decided on its resource. */
  objects: PerObjectResolver | undefined;
  /** Set when `routes.fromKeycloak` is on: MLflow paths the table does not map are looked up in Keycloak. */
  remote: KeycloakRoutes | undefined;
  /** Set with `nginx.purgeUrl`: remembers whose entries NGINX's decision cache holds, to purge them on sign-out. */
  purger?: NginxPurger | undefined;
  /** IdP lookups for request-named resources, per subject (decide/limiter.ts); undefined: unlimited (tests). */
  limiter?: SubjectLimiter | undefined;
  metrics: Metrics;
  log: Logger;
  /** The clock the caches use (the NGINX cache time is measured against token and decision expiries); default the system's. */
  clock?: Clock;
}
