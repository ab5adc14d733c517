import { z } from 'zod';
import type { ClientSettings, IssuerOptions, IssuerSettings } from './issuer-settings.js';
import { basicSchema } from './sections/basic.js';
import { cacheSchema } from './sections/cache.js';
import { decisionSchema, umaSchema } from './sections/decision.js';
import { identitySchema, ingressSchema, requestSchema } from './sections/ingress.js';
import { issuersSchema, primaryClientSchema, primaryIssuerSchema } from './sections/issuer.js';
import { loginSchema, logoutSchema } from './sections/login.js';
import { logSchema, nginxSchema } from './sections/nginx.js';
import { routesSchema } from './sections/routes.js';
import { serverSchema } from './sections/server.js';
import { redisSchema, sessionSchema } from './sections/session.js';

// Each section, with its defaults and the reasons for them, lives in src/config/sections/<area>.ts;
// this file only composes them. The order of the keys is the order of docs/options.md and
// docs/sample-config.yaml (npm run docs:options renders both from this schema).

export { ASYMMETRIC_ALGORITHMS } from './issuer-schema.js';
// The issuer types moved to issuer-settings.ts; re-exported so that `config/schema.js` stays the one import for config types.
export type {
  ClaimPath,
  ClientSettings,
  IssuerOptions,
  IssuerSettings,
  PolicyCondition,
  PolicyRequirement,
} from './issuer-settings.js';

/** The whole configuration, with every default in one place (units in the names). */
export const configSchema = z.strictObject({
  server: serverSchema,
  issuer: primaryIssuerSchema,
  client: primaryClientSchema,
  issuers: issuersSchema,
  decision: decisionSchema,
  uma: umaSchema,
  cache: cacheSchema,
  routes: routesSchema,
  session: sessionSchema,
  redis: redisSchema,
  login: loginSchema,
  basic: basicSchema,
  logout: logoutSchema,
  ingress: ingressSchema,
  request: requestSchema,
  identity: identitySchema,
  nginx: nginxSchema,
  log: logSchema,
});

/** What a configuration file (or the `AUTHZ_*` overrides) may say, before defaults. */
export type ConfigInput = z.input<typeof configSchema>;
/** The configuration as the schema parsed it, defaults filled in, before issuer normalisation. */
export type ParsedConfig = z.output<typeof configSchema>;

/**
 * The validated, frozen configuration the service runs with. `issuer` and `client` are the
 * primary issuer's (the `issuer:` shorthand, else the first of `issuers:`), which is also
 * `issuers[0]`.
 */
export interface Config extends Omit<ParsedConfig, 'client' | 'issuer' | 'issuers' | 'session'> {
  issuer: IssuerOptions;
  client: ClientSettings;
  issuers: readonly IssuerSettings[];
  session: Omit<ParsedConfig['session'], 'secretFile'>;
}
