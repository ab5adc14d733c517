import { z } from 'zod';
import { positiveSeconds } from './units.js';

// `Authorization: Basic` exchanged for a token with the password grant, and its lockout.
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `basic:` section: Basic credentials exchanged with the password grant, their cache and lockout. */
export const basicSchema = z
  .strictObject({
    /**
     * `Authorization: Basic` (MLFLOW_TRACKING_USERNAME/PASSWORD) exchanged at the IdP with the
     * resource-owner password grant on `clientId`. Off by default: the password grant is
     * deprecated (OAuth 2.0 Security BCP) and must be allowed on that client deliberately.
     */
    enabled: z.boolean().default(false),
    clientId: z.string().min(1).default('mlflow-cli'),
    /** For a confidential client; a public client (the default mlflow-cli) has none. */
    clientSecret: z.string().min(1).optional(),
    scope: z.string().min(1).default('openid'),
    maxEntries: z.number().int().positive().default(10_000),
    /** A cached exchange is trusted this long; then the password is checked again with a new grant. */
    maxAgeSeconds: positiveSeconds.default(3_600),
    /** Failed attempts (wrong password) allowed per user and per client address within `windowSeconds`... */
    maxFailuresPerUser: z.number().int().positive().default(5),
    maxFailuresPerAddress: z.number().int().positive().default(20),
    windowSeconds: positiveSeconds.default(300),
    /** ...before the user or address is locked out this long (no IdP call at all meanwhile). */
    lockoutSeconds: positiveSeconds.default(60),
  })
  .prefault({});
