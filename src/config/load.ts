import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { normalizeIssuers } from './normalize-issuers.js';
import { describeIssue, isSecretName, shownValue } from './problems.js';
import { isAbout, repairInput } from './repair.js';
import { configSchema, type Config, type ParsedConfig } from './schema.js';

/**
 * Every problem found in the configuration, each naming the option and, unless it could be a
 * secret, the bad value (src/config/problems.ts).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type EnvKind = 'string' | 'number' | 'boolean' | 'list';

/**
 * `AUTHZ_*` environment overrides: variable → [config path, type]. Explicit rather than
 * derived from the schema so the README can list them and a typo is not silently ignored.
 */
export const ENV_OVERRIDES: Record<string, [string, EnvKind]> = {
  AUTHZ_HOST: ['server.host', 'string'],
  AUTHZ_PORT: ['server.port', 'number'],
  AUTHZ_LISTEN: ['server.listen', 'string'],
  AUTHZ_SOCKET_MODE: ['server.socketMode', 'string'],
  AUTHZ_WORKERS: ['server.workers', 'number'],
  AUTHZ_ISSUER_URL: ['issuer.url', 'string'],
  AUTHZ_ISSUER_MODE: ['issuer.mode', 'string'],
  AUTHZ_ALLOW_INSECURE_ISSUER: ['issuer.allowInsecureHttp', 'boolean'],
  AUTHZ_AUDIENCES: ['issuer.audiences', 'list'],
  AUTHZ_CHALLENGE_REALM: ['issuer.challengeRealm', 'string'],
  AUTHZ_CLIENT_ID: ['client.id', 'string'],
  AUTHZ_CLIENT_SECRET: ['client.secret', 'string'],
  AUTHZ_CLIENT_SECRET_FILE: ['client.secretFile', 'string'],
  AUTHZ_DECISION_MODE: ['decision.mode', 'string'],
  AUTHZ_DECISION_TIMEOUT_MS: ['decision.timeoutMs', 'number'],
  AUTHZ_UMA_CHALLENGE: ['uma.challenge', 'boolean'],
  AUTHZ_UMA_PER_OBJECT: ['uma.perObject', 'boolean'],
  AUTHZ_CACHE_MAX_ENTRIES: ['cache.maxEntries', 'number'],
  AUTHZ_CACHE_ALLOW_TTL_SECONDS: ['cache.allowTtlSeconds', 'number'],
  AUTHZ_CACHE_DENY_TTL_SECONDS: ['cache.denyTtlSeconds', 'number'],
  AUTHZ_NGINX_CACHE_SECONDS: ['nginx.cacheSeconds', 'number'],
  AUTHZ_NGINX_PURGE_URL: ['nginx.purgeUrl', 'string'],
  AUTHZ_ROUTES_PRESET: ['routes.preset', 'string'],
  AUTHZ_ROUTES_FILE: ['routes.file', 'string'],
  AUTHZ_ROUTES_PREFIX: ['routes.prefix', 'string'],
  AUTHZ_ROUTES_FROM_KEYCLOAK: ['routes.fromKeycloak', 'boolean'],
  AUTHZ_SESSION_SECRET: ['session.secret', 'string'],
  AUTHZ_SESSION_SECRET_FILE: ['session.secretFile', 'string'],
  AUTHZ_SESSION_COOKIE_NAME: ['session.cookieName', 'string'],
  AUTHZ_SESSION_IDLE_TIMEOUT_SECONDS: ['session.idleTimeoutSeconds', 'number'],
  AUTHZ_SESSION_ABSOLUTE_TIMEOUT_SECONDS: ['session.absoluteTimeoutSeconds', 'number'],
  AUTHZ_SESSION_REFRESH_BEFORE_SECONDS: ['session.refreshBeforeSeconds', 'number'],
  AUTHZ_SESSION_STORE: ['session.store', 'string'],
  AUTHZ_REDIS_URL: ['redis.url', 'string'],
  AUTHZ_REDIS_USERNAME: ['redis.username', 'string'],
  AUTHZ_REDIS_PASSWORD: ['redis.password', 'string'],
  AUTHZ_REDIS_TLS_CA_FILE: ['redis.tlsCaFile', 'string'],
  AUTHZ_REDIS_TLS_CERT_FILE: ['redis.tlsCertFile', 'string'],
  AUTHZ_REDIS_TLS_KEY_FILE: ['redis.tlsKeyFile', 'string'],
  AUTHZ_REDIS_TLS_SERVERNAME: ['redis.tlsServername', 'string'],
  AUTHZ_REDIS_KEY_PREFIX: ['redis.keyPrefix', 'string'],
  AUTHZ_LOGIN_ENABLED: ['login.enabled', 'boolean'],
  AUTHZ_LOGIN_PUBLIC_URL: ['login.publicUrl', 'string'],
  AUTHZ_LOGIN_ALLOWED_HOSTS: ['login.allowedHosts', 'list'],
  AUTHZ_LOGIN_SCOPE: ['login.scope', 'string'],
  AUTHZ_BASIC_ENABLED: ['basic.enabled', 'boolean'],
  AUTHZ_BASIC_CLIENT_ID: ['basic.clientId', 'string'],
  AUTHZ_BASIC_CLIENT_SECRET: ['basic.clientSecret', 'string'],
  AUTHZ_BASIC_MAX_FAILURES_PER_USER: ['basic.maxFailuresPerUser', 'number'],
  AUTHZ_BASIC_MAX_FAILURES_PER_ADDRESS: ['basic.maxFailuresPerAddress', 'number'],
  AUTHZ_BASIC_LOCKOUT_SECONDS: ['basic.lockoutSeconds', 'number'],
  AUTHZ_INGRESS_ENABLED: ['ingress.enabled', 'boolean'],
  AUTHZ_INGRESS_TRUSTED_PROXIES: ['ingress.trustedProxies', 'list'],
  AUTHZ_LOG_LEVEL: ['log.level', 'string'],
  AUTHZ_AUDIT_LOG: ['log.audit', 'boolean'],
};

/**
 * Loads the configuration: the file named by `AUTHZ_CONFIG` (YAML or JSON), then the
 * `AUTHZ_*` overrides, then validation. Throws {@link ConfigError} listing every problem: the
 * schema's, and those of the checks that span options, which run on a repaired copy of the
 * input when the schema fails (src/config/repair.ts), so one start shows them all.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const raw = readConfigFile(env.AUTHZ_CONFIG, problems);
  // An unreadable file would make every required option look missing: say only what is wrong with the file.
  const fileFailed = problems.length > 0;
  applyEnvOverrides(raw, env, problems);
  if (fileFailed) throw new ConfigError(problems);

  const input = requireShorthand(raw);
  const parsed = configSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    problems.push(...parsed.error.issues.flatMap((issue) => describeIssue(issue, configSchema)));
    const repaired = repairInput(configSchema, input, parsed.error.issues);
    if (repaired !== undefined) {
      const more: string[] = [];
      finish(repaired.data, more);
      problems.push(...more.filter((problem) => !isAbout(problem, repaired.touched) && !problems.includes(problem)));
    }
    throw new ConfigError(problems);
  }
  const config = finish(parsed.data, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/**
 * Without `issuers:`, the `issuer` and `client` sections are required: absent, each still
 * reports its missing options by name (AUTHZ_ISSUER_URL, AUTHZ_CLIENT_ID).
 */
function requireShorthand(raw: Record<string, unknown>): Record<string, unknown> {
  const listed = Array.isArray(raw.issuers) && raw.issuers.length > 0;
  if (listed && raw.issuer === undefined && raw.client === undefined) return raw;
  return { ...raw, issuer: raw.issuer ?? {}, client: raw.client ?? {} };
}

function readConfigFile(path: string | undefined, problems: string[]): Record<string, unknown> {
  if (path === undefined || path === '') return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`AUTHZ_CONFIG: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return {};
  }
  try {
    const value: unknown = parseYaml(text); // YAML is a superset of JSON: one parser for both
    if (value === null || value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`AUTHZ_CONFIG: ${JSON.stringify(path)} must hold a mapping at the top level`);
      return {};
    }
    return value as Record<string, unknown>;
  } catch (error) {
    problems.push(`AUTHZ_CONFIG: ${JSON.stringify(path)} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`);
    return {};
  }
}

function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const name of Object.keys(env)) {
    if (!name.startsWith('AUTHZ_') || name === 'AUTHZ_CONFIG') continue;
    const target = ENV_OVERRIDES[name];
    if (target === undefined) {
      problems.push(`${name}: unknown AUTHZ_* variable (known: ${Object.keys(ENV_OVERRIDES).join(', ')})`);
      continue;
    }
    const [path, kind] = target;
    const text = env[name] ?? '';
    const value = convertEnv(text, kind);
    if (value === undefined) {
      const shown = isSecretName(name) ? undefined : shownValue(path.split('.'), text);
      problems.push(`${name}: expected a ${kind}${shown === undefined ? '' : `, got ${shown}`}`);
      continue;
    }
    setPath(raw, path, value);
  }
}

function convertEnv(text: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : undefined;
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return undefined;
    case 'list':
      return text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Checks that span options, the issuers' normalisation (src/config/normalize-issuers.ts), and secret files. */
function finish(parsed: ParsedConfig, problems: string[]): Config {
  if (parsed.routes.preset === 'none' && parsed.routes.file === undefined) {
    problems.push('routes.file: required when routes.preset is "none" (otherwise every route is denied)');
  }
  const issuers = normalizeIssuers(parsed, problems);
  const primary = issuers[0]!; // the schema requires `issuer:` or a non-empty `issuers:`
  const primaryPath = parsed.issuer !== undefined ? 'issuer' : 'issuers.0';
  const clientPath = parsed.issuer !== undefined ? 'client' : 'issuers.0.client';
  // The protection API (permission tickets, resource ids) is Keycloak's, reached with the primary issuer's PAT.
  const umaFeatures = parsed.decision.mode === 'ticket' || parsed.uma.challenge || parsed.uma.perObject || parsed.routes.fromKeycloak;
  if (umaFeatures && primary.mode !== 'keycloak-uma') {
    problems.push(
      `${primaryPath}.mode: must be "keycloak-uma" when decision.mode is "ticket", uma.challenge, uma.perObject or routes.fromKeycloak is on (they use the primary issuer's Keycloak protection API); got ${JSON.stringify(primary.mode)}`,
    );
  } else if (umaFeatures && primary.client.secret === undefined) {
    problems.push(
      `${clientPath}.secret: required when decision.mode is "ticket", uma.challenge, uma.perObject or routes.fromKeycloak is on (the PAT is a client-credentials token)`,
    );
  }
  if (parsed.login.enabled && primary.client.secret === undefined) {
    problems.push(
      `${clientPath}.secret: required when login.enabled is on (the authorization code grant runs on the primary issuer's confidential client)`,
    );
  }
  checkWorkers(parsed, problems);
  const session = readSessionSecret(parsed.session, problems);
  if (session.store === 'redis') {
    if (parsed.redis.url === undefined) problems.push('redis.url: required when session.store is "redis" (AUTHZ_REDIS_URL)');
    // Every replica must open every other's cookies and the tokens they stored: one shared secret.
    if (session.secret === undefined) problems.push('session.secret: required when session.store is "redis" (shared by every replica)');
  }
  checkRedisTls(parsed.redis, problems);
  const { issuer: _issuer, client: _client, issuers: _issuers, ...rest } = parsed;
  return { ...rest, issuer: primary.issuer, client: primary.client, issuers, session };
}

/**
 * Several worker processes share nothing in memory: each has its own sessions, login states and failure counters.
 * On the memory store, browser sessions live in one process (a request on another worker would not find its
 * session), and Basic credentials' lockout counters would allow N× the configured failures: refused. With
 * `session.store: redis` sessions and the Basic counters are shared (as between replicas), so workers are fine.
 */
function checkWorkers(parsed: ParsedConfig, problems: string[]): void {
  if (parsed.server.workers <= 1 || parsed.session.store === 'redis') return;
  if (parsed.login.enabled) {
    problems.push(
      `server.workers: ${parsed.server.workers} workers cannot serve browser login (login.enabled) on the memory session store: sessions are kept in each process's memory, so a session made on one worker is unknown to the others; use session.store: redis, workers: 1 with login, or several workers without it`,
    );
  }
  if (parsed.basic.enabled) {
    problems.push(
      `server.workers: ${parsed.server.workers} workers cannot serve Basic credentials (basic.enabled) on the memory session store: the failure counters and lockouts are per process, so a guesser would get ${parsed.server.workers}× basic.maxFailuresPerUser tries; use session.store: redis, workers: 1 with Basic, or several workers without it`,
    );
  }
}

/** `session.secret` or the contents of `session.secretFile` (one of them, not both). */
function readSessionSecret(parsed: ParsedConfig['session'], problems: string[]): Config['session'] {
  const { secretFile, ...session } = parsed;
  if (secretFile === undefined) return session;
  if (session.secret !== undefined) {
    problems.push('session.secretFile: set either session.secret or session.secretFile, not both');
    return session;
  }
  try {
    const secret = readFileSync(secretFile, 'utf8').trim();
    if (secret.length < 32) problems.push(`session.secretFile: ${JSON.stringify(secretFile)} must hold at least 32 characters`);
    return { ...session, secret };
  } catch (error) {
    problems.push(`session.secretFile: cannot read ${JSON.stringify(secretFile)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return session;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * TLS settings only mean something with a `rediss://` URL: with `redis://` they would be ignored and the password
 * would cross the network in clear, so that is refused. A client certificate needs its key and the other way round.
 */
function checkRedisTls(redis: ParsedConfig['redis'], problems: string[]): void {
  const set = (['tlsCaFile', 'tlsCertFile', 'tlsKeyFile', 'tlsServername'] as const).filter((name) => redis[name] !== undefined);
  if (set.length > 0 && redis.url !== undefined && !redis.url.startsWith('rediss://'))
    problems.push(`redis.url: must be rediss:// (TLS) when ${set.map((name) => `redis.${name}`).join(', ')} is set; got a redis:// URL`);
  if ((redis.tlsCertFile === undefined) !== (redis.tlsKeyFile === undefined))
    problems.push('redis.tlsCertFile and redis.tlsKeyFile: set both (a client certificate and its key) or neither');
}
