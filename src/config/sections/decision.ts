import { z } from 'zod';
import { positiveMs, positiveSeconds } from './units.js';

// How a decision is asked of Keycloak (`decision:`) and the UMA features around it (`uma:`).
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `decision:` section: how a cache miss is decided at Keycloak, its timeout and per-subject lookup budget. */
export const decisionSchema = z
  .strictObject({
    /**
     * `decision`: one UMA grant with `permission=` and `response_mode=decision` per cache miss.
     * `ticket`: a permission ticket from the protection API (with the PAT), then the caller's
     * token + ticket exchanged for an RPT, which is verified like any token.
     */
    mode: z.enum(['decision', 'ticket']).default('decision'),
    timeoutMs: positiveMs.default(3_000),
    /**
     * IdP lookups one subject may cause for request-named objects (`experiment:<id>`,
     * `bucket:<name>`, Keycloak URIs; never the table's own resources): a token bucket of
     * `lookupBurstPerSubject` refilled at `lookupsPerSecondPerSubject`; over it, 429 through NGINX.
     */
    lookupBurstPerSubject: z.number().int().positive().default(50),
    lookupsPerSecondPerSubject: z.number().positive().default(5),
  })
  .prefault({});

/** The `uma:` section: the UMA challenge, per-object decisions, resource-id and PAT lifetimes. */
export const umaSchema = z
  .strictObject({
    /**
     * Answer a bearer token that is not an RPT with 401 `WWW-Authenticate: UMA ... ticket=`
     * (UMA 2.0 Grant §3.2) instead of deciding for it. Off by default: most MLflow clients
     * cannot trade a ticket for an RPT.
     */
    challenge: z.boolean().default(false),
    /**
     * Decide requests that name their experiment in the URI (artifact-proxy paths,
     * `experiment_id` on GET routes; the table's `object` hints) on `experiment:<id>` when
     * Keycloak has that resource, on the route's family resource otherwise.
     */
    perObject: z.boolean().default(false),
    /** Resource name → id lookups through the protection API (found or not) are remembered this long. */
    resourceIdTtlSeconds: positiveSeconds.default(300),
    /** The PAT is renewed once this fraction of its lifetime has passed (in the background while it is still valid). */
    patRenewFraction: z.number().min(0.1).max(0.95).default(0.8),
  })
  .prefault({});
