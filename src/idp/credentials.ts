import type { Config, IssuerSettings } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { describe, diagnoseClientRefusal, networkDiagnosis, StartupFailure } from './diagnose.js';
import { idpFetch, readJson } from './http.js';
import type { TrustedIssuer } from './issuer-registry.js';
import type { PatProvider } from './pat.js';
import { MAX_RETRY_MS } from './provider.js';

/** One check of a client secret the service will use: what it checks, and one attempt at it. */
export interface CredentialCheck {
  /** `client "nginx-authz" (PAT)` */
  name: string;
  issuer: TrustedIssuer;
  /** @throws {StartupFailure} when the IdP refuses the credentials or cannot be asked */
  run(): Promise<string>;
}

/** Opaque, never a real token: introspection answers `active: false` for it once the client is authenticated. */
const PROBE_TOKEN = 'nginx-authz-credentials-check';

/**
 * The client secrets the configuration will use, each checked once at start rather than on
 * the first request that needs it (a wrong secret would otherwise start "ready" and fail
 * every such request with 503):
 * - the primary issuer's PAT, when ticket mode, the UMA challenge, per-object decisions or
 *   Keycloak-resolved routes need it: obtained (the client-credentials grant), and kept;
 * - otherwise the primary's secret when browser login uses it, and every introspection
 *   issuer's: one RFC 7662 call for a made-up token, which the IdP answers only for a client
 *   it authenticates (401 for a wrong secret).
 */
export function credentialChecks(config: Config, issuers: readonly TrustedIssuer[], pat: PatProvider, metrics: Metrics): CredentialCheck[] {
  const checks: CredentialCheck[] = [];
  const primary = issuers[0];
  const needsPat = config.decision.mode === 'ticket' || config.uma.challenge || config.uma.perObject || config.routes.fromKeycloak;
  if (primary !== undefined && needsPat) {
    checks.push({
      name: `client "${primary.settings.client.id}" (PAT)`,
      issuer: primary,
      run: async () => {
        try {
          await pat.get();
        } catch (error) {
          const cause = (error as { cause?: unknown }).cause;
          throw cause instanceof StartupFailure
            ? cause
            : new StartupFailure('PAT', networkDiagnosis(error, primary.provider.endpoints?.tokenEndpoint ?? primary.settings.issuer.url));
        }
        return 'PAT obtained (client credentials accepted, service account present)';
      },
    });
  }
  for (const [index, issuer] of issuers.entries()) {
    const { client } = issuer.settings;
    if (client.secret === undefined) continue;
    const loginClient = index === 0 && config.login.enabled && !needsPat;
    if (!loginClient && !issuer.introspects) continue;
    checks.push({
      name: `client "${client.id}" of issuer ${issuer.settings.id}`,
      issuer,
      run: () => probe(issuer.settings, issuer, metrics),
    });
  }
  return checks;
}

/** One introspection call with the client's credentials. */
async function probe(settings: IssuerSettings, issuer: TrustedIssuer, metrics: Metrics): Promise<string> {
  const endpoint = settings.introspection.endpoint ?? issuer.provider.endpoints?.introspectionEndpoint;
  if (endpoint === undefined) return 'not checked: the issuer publishes no introspection endpoint';
  const { id, secret } = settings.client;
  const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret ?? '')}`).toString('base64');
  let response: Response;
  let body: { active?: unknown; error?: unknown; error_description?: unknown } | undefined;
  try {
    response = await idpFetch(
      metrics,
      'introspection',
      endpoint,
      {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token: PROBE_TOKEN, token_type_hint: 'access_token' }),
      },
      settings.introspection.timeoutMs,
    );
    // The body within the same timeout as the call (idp/http.ts): one that never ends is no answer in time.
    body = await readJson(response, 'introspection');
  } catch (error) {
    throw new StartupFailure('client credentials', networkDiagnosis(error, endpoint, settings.issuer.url));
  }
  if (response.status === 200 && typeof body?.active === 'boolean') return 'client credentials accepted (introspection)';
  throw new StartupFailure('client credentials', diagnoseClientRefusal(endpoint, id, response.status, body));
}

/**
 * Runs every check once its issuer is discovered, retrying a failed one with the discovery's
 * backoff, and says which have not passed (for /readyz). Each failure is logged with what to fix.
 */
export class CredentialChecks {
  private readonly pending = new Map<CredentialCheck, string>();
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private started: Promise<void> | undefined;

  constructor(
    readonly checks: readonly CredentialCheck[],
    private readonly log: Logger,
  ) {
    for (const check of checks) this.pending.set(check, 'not checked yet');
  }

  /** Resolves once every check has passed. Idempotent. */
  start(): Promise<void> {
    this.started ??= Promise.all(this.checks.map((check) => this.runUntilPassed(check))).then(() => undefined);
    return this.started;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  /** `client "x" (PAT): <url>: HTTP 401 … (hint)` for every check that has not passed. */
  get problems(): string[] {
    return [...this.pending].map(([check, problem]) => `${check.name}: ${problem}`);
  }

  private async runUntilPassed(check: CredentialCheck): Promise<void> {
    await check.issuer.provider.start();
    const base = check.issuer.settings.issuer.discoveryRetryMs;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const found = await check.run();
        this.pending.delete(check);
        this.log.info({ check: check.name }, `credentials check: ${check.name}: ${found}`);
        return;
      } catch (error) {
        const text = error instanceof StartupFailure ? describe(error.diagnosis) : String(error);
        const hint = error instanceof StartupFailure ? error.diagnosis.hint : undefined;
        this.pending.set(check, text);
        const retryInMs = Math.min(base * 2 ** Math.min(attempt - 1, 16), Math.max(base, MAX_RETRY_MS));
        this.log.error(
          { check: check.name, hint, attempt, retryInMs },
          `credentials check failed: ${check.name}: ${text}; not ready; retrying in ${Math.round(retryInMs / 1000)} s`,
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            resolve();
          }, retryInMs);
          this.timers.add(timer);
        });
      }
    }
  }
}
