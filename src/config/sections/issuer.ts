import { z } from 'zod';
import { clientSchema, issuerEntrySchema, issuerFields } from '../issuer-schema.js';

// The issuers the service trusts: the `issuer:` shorthand, its `client:`, and `issuers:` for more.
// One section of the configuration schema; src/config/schema.ts composes the sections. The fields an
// issuer shares with every `issuers:` entry live in src/config/issuer-schema.ts.

/**
 * The single-issuer shorthand (and the primary issuer when `issuers:` lists more): required
 * unless `issuers:` is given. Its mode defaults to `keycloak-uma`.
 */
export const primaryIssuerSchema = z
  .strictObject({
    ...issuerFields,
    /** Realm name in WWW-Authenticate challenges (RFC 6750 §3). */
    challengeRealm: z
      .string()
      .regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/, 'printable ASCII without quotes or backslashes')
      .default('mlflow'),
  })
  .optional();

/** The `client:` section: the primary issuer's client id and secret. */
export const primaryClientSchema = clientSchema.optional();

/** More issuers, each with its own discovery, keys, audiences, claims and mode (src/config/issuer-schema.ts). */
export const issuersSchema = z.array(issuerEntrySchema).default([]);
