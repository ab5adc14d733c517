import { z } from 'zod';
import { clientSchema, issuerEntrySchema, issuerFields, type IssuerMode } from './issuer-schema.js';
import { isAddressOrCidr } from '../request/trusted-proxies.js';

export { ASYMMETRIC_ALGORITHMS } from './issuer-schema.js';

const port = z.number().int().min(0).max(65_535);
const positiveMs = z.number().int().positive();
const positiveSeconds = z.number().positive();

/** The whole configuration, with every default in one place (units in the names). */
export const configSchema = z.strictObject({
  server: z
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
    .prefault({}),
  /**
   * The single-issuer shorthand (and the primary issuer when `issuers:` lists more): required
   * unless `issuers:` is given. Its mode defaults to `keycloak-uma`.
   */
  issuer: z
    .strictObject({
      ...issuerFields,
      /** Realm name in WWW-Authenticate challenges (RFC 6750 §3). */
      challengeRealm: z
        .string()
        .regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/, 'printable ASCII without quotes or backslashes')
        .default('mlflow'),
    })
    .optional(),
  client: clientSchema.optional(),
  /** More issuers, each with its own discovery, keys, audiences, claims and mode (src/config/issuer-schema.ts). */
  issuers: z.array(issuerEntrySchema).default([]),
  decision: z
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
    .prefault({}),
  uma: z
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
    .prefault({}),
  cache: z
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
    .prefault({}),
  routes: z
    .strictObject({
      /** The shipped table; `none` when `file` alone describes every route. */
      preset: z.enum(['mlflow', 'none']).default('mlflow'),
      /** Extra table (YAML or JSON, same format); its entries win over the preset's. */
      file: z.string().min(1).optional(),
      /** Static prefix MLflow is served under (e.g. `/mlflow`); empty for none. */
      prefix: z
        .string()
        .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'empty or /segment[/segment...]')
        .default(''),
      /**
       * Paths the table does not map are looked up in Keycloak by the resources' `uris`
       * (protection API, like the policy enforcer's lazy-load-paths); the static table still
       * decides every path it maps. MLflow service only.
       */
      fromKeycloak: z.boolean().default(false),
      /** The scope a Keycloak-resolved path needs, by method (HEAD uses GET's); other methods are denied. */
      keycloakScopes: z
        .record(z.string().regex(/^[A-Z]{1,16}$/), z.string().regex(/^[A-Za-z0-9_.:-]+$/))
        .default({ GET: 'read', POST: 'write', PUT: 'write', PATCH: 'write', DELETE: 'delete' }),
      /** The S3 table, used for subrequests NGINX sends to `/auth/minio` (the MinIO front). */
      minio: z
        .strictObject({
          preset: z.enum(['minio', 'none']).default('minio'),
          file: z.string().min(1).optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  session: z
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
    .prefault({}),
  redis: z
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
      /** Prefix of every key and channel, so several deployments can share one Redis. */
      keyPrefix: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
        .default('nginx-authz:'),
      /** A Redis command that takes longer is treated as Redis unavailable (503, never an allow). */
      commandTimeoutMs: z.number().int().min(50).max(30_000).default(1_000),
    })
    .prefault({}),
  login: z
    .strictObject({
      /** Browser single sign-on: /oauth2/start, /oauth2/callback, /oauth2/sign_out (authorization code + PKCE). */
      enabled: z.boolean().default(false),
      /** External base URL (`https://mlflow.example.com`); unset: from X-Forwarded-Proto/Host, host checked against `allowedHosts`. */
      publicUrl: z.url({ protocol: /^https?$/ }).optional(),
      /**
       * Hosts (`host` or `host:port`) a login may return to and whose X-Forwarded-Host is trusted
       * for the redirect URI. Loopback hosts (127.0.0.1, localhost, [::1], any port) are always allowed.
       */
      allowedHosts: z
        .array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/, 'host or host:port'))
        .default([]),
      scope: z.string().min(1).default('openid profile email'),
      /** Where a browser lands after sign-out (a path on the public URL; registered as post_logout_redirect_uri). */
      postLogoutPath: z
        .string()
        .regex(/^\/(?![/\\])[\x21-\x7e]*$/, 'a path starting with a single /')
        .default('/'),
      /** A login must come back from the IdP within this time. */
      stateTtlSeconds: positiveSeconds.default(600),
    })
    .prefault({}),
  basic: z
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
    .prefault({}),
  logout: z
    .strictObject({
      /** Client ids a logout token's `aud` may name besides each issuer's client id, its `audiences` and `basic.clientId`. */
      audiences: z.array(z.string().min(1)).default([]),
      /** A logout token issued longer ago than this is refused (its `jti` is remembered this long, plus the skew). */
      maxTokenAgeSeconds: positiveSeconds.max(3_600).default(120),
      /** How long a logout refuses the subject's (or session's) earlier tokens: at least the longest access-token lifetime. */
      revocationRetentionSeconds: positiveSeconds.default(86_400),
      /** Revocation records and remembered `jti`s held at most each (oldest dropped first). */
      maxEntries: z.number().int().positive().default(100_000),
    })
    .prefault({}),
  ingress: z
    .strictObject({
      /**
       * Also accept ingress-nginx's external-auth contract (`auth-url`): the original request as
       * X-Original-URL (full URL) and X-Original-Method, the client as X-Real-IP. Read only from
       * `trustedProxies`; from any other sender X-Original-URL is ignored (see request/original.ts).
       */
      enabled: z.boolean().default(false),
      /** Addresses or CIDRs (the controller pods' network) whose X-Original-URL and X-Real-IP are believed. */
      trustedProxies: z
        .array(z.string().refine(isAddressOrCidr, 'an IPv4/IPv6 address or CIDR (10.0.0.0/8, fd00::/8)'))
        .default(['127.0.0.1/32', '::1/128']),
    })
    .prefault({}),
  request: z
    .strictObject({
      maxUriLength: z.number().int().min(256).max(65_536).default(8_192),
    })
    .prefault({}),
  identity: z
    .strictObject({
      maxHeaderBytes: z.number().int().min(64).max(8_192).default(1_024),
    })
    .prefault({}),
  nginx: z
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
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      audit: z.boolean().default(true),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** A claim's path as segments: `realm_access.roles` → ["realm_access", "roles"]. */
export type ClaimPath = readonly string[];

/** One policy condition: the claim at `claim` holds at least one of `values`. */
export interface PolicyCondition {
  claim: ClaimPath;
  values: readonly string[];
}

/** What a `resource#scope` requires: every `allOf`, and one of `anyOf` when listed. */
export interface PolicyRequirement {
  anyOf: readonly PolicyCondition[] | undefined;
  allOf: readonly PolicyCondition[] | undefined;
}

/** Transport and verification options of one issuer, in the shape of the `issuer:` section. */
export interface IssuerOptions {
  url: string;
  allowInsecureHttp: boolean;
  audiences: readonly string[];
  algorithms: readonly typeof import('./issuer-schema.js').ASYMMETRIC_ALGORITHMS[number][];
  clockToleranceSeconds: number;
  challengeRealm: string;
  httpTimeoutMs: number;
  jwksCooldownMs: number;
  jwksCacheMaxAgeMs: number;
  discoveryRetryMs: number;
}

export interface ClientSettings {
  id: string;
  secret: string | undefined;
}

/** One trusted issuer as the service runs it: the `issuer:` shorthand and `issuers:` entries alike. */
export interface IssuerSettings {
  /** `issuers[].id`; "primary" for the `issuer:` shorthand. */
  id: string;
  mode: IssuerMode;
  issuer: IssuerOptions;
  /** The issuer's client (UMA audience, introspection credentials); for claims-only issuers, a placeholder id with no secret. */
  client: ClientSettings;
  /** Where the identity headers' values are read. */
  claims: { username: ClaimPath; email: ClaimPath; groups: ClaimPath };
  /** `resource#scope` patterns → requirement (modes claims and introspection). */
  policy: ReadonlyMap<string, PolicyRequirement> | undefined;
  introspection: {
    endpoint: string | undefined;
    cacheMaxSeconds: number;
    negativeCacheSeconds: number;
    negativeMaxEntries: number;
    timeoutMs: number;
    opaqueTokens: boolean;
  };
}

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
