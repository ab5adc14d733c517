import { z } from 'zod';
import { positiveSeconds } from './units.js';

// Browser sessions (`session:`) and the Redis the replicas share them through (`redis:`).
// One section of the configuration schema; src/config/schema.ts composes the sections.

/** The `session:` section: the session cookie, its key, lifetimes, bounds, refresh and store. */
export const sessionSchema = z
  .strictObject({
    /**
     * Key material for the session and login-state cookies (JWE, `dir` + A256GCM, key from
     * HKDF-SHA256). Unset: a random key per process, which is enough for one replica because
     * sessions live in that process's memory anyway (a restart ends them either way); set it
     * when several replicas share logins (the pending-login cookie must open on any of them).
     */
    secret: z.string().min(32, 'at least 32 characters').optional(),
    secretFile: z.string().min(1).optional(),
    cookieName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('nginx_authz_session'),
    idleTimeoutSeconds: positiveSeconds.default(3_600), // no request for this long ends the session
    absoluteTimeoutSeconds: positiveSeconds.default(43_200), // 12 h after login, whatever the activity
    /** Sessions held in memory (tokens stay server-side; the cookie carries only the session id). */
    maxEntries: z.number().int().positive().default(10_000), // ≈ 5 KB each with Keycloak's three tokens
    /** Sessions one subject (user) may hold at once; a login beyond it ends that subject's oldest session. */
    maxPerSubject: z.number().int().positive().default(20),
    /** Bytes the sessions may hold in all (token lengths + ~320 B each), least recently used dropped first. */
    maxBytes: z.number().int().min(65_536).default(33_554_432), // 32 MiB ≈ 7,000 Keycloak sessions
    /** The access token is refreshed once it has less than this left (single flight per session). */
    refreshBeforeSeconds: z.number().int().min(0).max(3_600).default(30),
    /**
     * Where sessions live: `memory` (one replica; a restart signs everyone out) or `redis`
     * (shared by every replica, tokens encrypted at rest; needs `redis.url` and `session.secret`).
     */
    store: z.enum(['memory', 'redis']).default('memory'),
  })
  .prefault({});

/** The `redis:` section: the Redis that `session.store: redis` shares between replicas. */
export const redisSchema = z
  .strictObject({
    /**
     * `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Used by `session.store: redis`
     * (sessions, Basic lockouts, the replicas' invalidation messages). Never logged with its password.
     */
    url: z.url({ protocol: /^rediss?$/ }).optional(),
    /** Overrides the URL's user name (an ACL user); the password comes from `AUTHZ_REDIS_PASSWORD` or the URL. */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** A PEM file of the CA that signed the Redis server's certificate (rediss:// only); unset: the system's CAs. */
    tlsCaFile: z.string().min(1).optional(),
    /**
     * A PEM client certificate (and `tlsKeyFile`, its key) presented to Redis (rediss:// only), for a server
     * that demands one (`tls-auth-clients yes`, Redis's default once TLS is on).
     */
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
    /** The name the server's certificate must carry (and SNI) when it differs from the URL's host (e.g. a URL by IP address). */
    tlsServername: z.string().min(1).optional(),
    /** Prefix of every key and channel, so several deployments can share one Redis. */
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
      .default('nginx-authz:'),
    /** A Redis command that takes longer is treated as Redis unavailable (503, never an allow). */
    commandTimeoutMs: z.number().int().min(50).max(30_000).default(1_000),
  })
  .prefault({});
