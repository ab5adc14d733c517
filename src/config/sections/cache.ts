import { z } from 'zod';
import { positiveSeconds } from './units.js';

// The service's own caches: decisions and verified tokens, bounded by entries and by bytes.
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `cache:` section: bounds and TTLs of the decision and verified-token caches. */
export const cacheSchema = z
  .strictObject({
    maxEntries: z.number().int().positive().default(100_000), // ≈ 15 MB of heap when full
    allowTtlSeconds: positiveSeconds.default(60),
    denyTtlSeconds: positiveSeconds.default(5),
    tokenMaxEntries: z.number().int().positive().default(20_000), // verified tokens, ≈ 13 MB when full
    /** Estimated heap the decision cache may take, whatever its entries weigh (request-named resources can be long). */
    maxBytes: z
      .number()
      .int()
      .min(1_048_576)
      .default(32 * 1_048_576),
    /** Estimated heap the verified-token cache may take (an identity's groups and claim values are the IdP's to size). */
    tokenMaxBytes: z
      .number()
      .int()
      .min(1_048_576)
      .default(16 * 1_048_576),
  })
  .prefault({});
