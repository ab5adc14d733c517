import { z } from 'zod';
import { port, positiveMs } from './units.js';

// Where and how the service listens: host and port or a unix socket, workers, keep-alive, shutdown.
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `server:` section: listener, workers, keep-alive and shutdown times. */
export const serverSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(4180), // oauth2-proxy's port: NGINX users already know it
    /**
     * `unix:/absolute/path`: listen on a unix socket instead of host:port (NGINX `server unix:...` in the
     * upstream). Saves the loopback TCP stack on every subrequest; see docs/speed.md.
     */
    listen: z
      .string()
      .regex(/^unix:\/[^\0]{1,100}$/, 'unix:/absolute/path (at most ~100 characters: the sun_path limit)')
      .optional(),
    /** Permissions of the socket file (octal); owner-only by default: NGINX must run as the same user, or share a group with 0660. */
    socketMode: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'octal permissions such as 0600 or 0660')
      .default('0600'),
    /** Processes serving decisions (node:cluster); each has its own caches. See docs/speed.md for what is per process. */
    workers: z.number().int().min(1).max(64).default(1),
    keepAliveTimeoutMs: positiveMs.default(65_000), // above NGINX's upstream keepalive_timeout (60 s in our snippet)
    shutdownGraceMs: positiveMs.default(10_000), // in-flight decisions get this long after SIGTERM
  })
  .prefault({});
