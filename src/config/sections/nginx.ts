import { z } from 'zod';

// NGINX's optional decision cache and its purge (`nginx:`); logging (`log:`).
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `nginx:` section: NGINX's optional decision cache time and its purge location. */
export const nginxSchema = z
  .strictObject({
    /**
     * The most seconds NGINX's optional decision cache (nginx/snippets/authz-cache.conf) may keep
     * one allow, sent per answer as `X-Accel-Expires` (src/auth/nginx-cache.ts); 0 marks every
     * answer uncacheable. Also the time a signed-out session may still be served from that cache.
     */
    cacheSeconds: z.number().int().min(0).max(60).default(5),
    /**
     * NGINX's purge location (nginx/snippets/authz-cache-purge.conf, loopback only): on sign-out the
     * service purges the user's cached decisions there at once. Unset: they expire within cacheSeconds.
     */
    purgeUrl: z.url({ protocol: /^http$/ }).optional(),
  })
  .prefault({});

/** The `log:` section: level and audit lines. */
export const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    audit: z.boolean().default(true),
  })
  .prefault({});
