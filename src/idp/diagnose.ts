import { withoutUserinfo } from '../config/problems.js';

/**
 * What went wrong when talking to the IdP at start, in words an operator can act on: the URL
 * that was tried, the HTTP status or network error, and a hint at the usual cause. Used in the
 * log lines, in /readyz's body and by `--check`. Never includes a secret or a token: only
 * URLs from the configuration or the IdP's metadata, statuses, OAuth error codes and the
 * IdP's `error_description`, which is a fixed text per error.
 */

/** One failed step: what was asked, what came back, what to do. */
export interface Diagnosis {
  /** `http://…/.well-known/openid-configuration`, the JWKS URL, the token endpoint. */
  url: string;
  /** `HTTP 404`, `ECONNREFUSED`, `timeout after 5000 ms`, `401 unauthorized_client`. */
  outcome: string;
  /** What to check or change; undefined when there is nothing better to say than the outcome. */
  hint: string | undefined;
}

/** A start-up step failed; `diagnosis` says how. */
export class StartupFailure extends Error {
  readonly diagnosis: Diagnosis;
  constructor(
    readonly step: string,
    diagnosis: Diagnosis,
  ) {
    super(`${step}: ${describe(diagnosis)}`);
    this.diagnosis = { ...diagnosis, url: withoutUserinfo(diagnosis.url) }; // a URL's userinfo is a credential
    this.name = 'StartupFailure';
  }
}

/** `GET <url>: HTTP 404 (hint)` */
export function describe(diagnosis: Diagnosis): string {
  return `${withoutUserinfo(diagnosis.url)}: ${diagnosis.outcome}${diagnosis.hint === undefined ? '' : ` (${diagnosis.hint})`}`;
}

/** The discovery document's URL for an issuer (OIDC Discovery §4: the issuer + /.well-known/openid-configuration). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

const KEYCLOAK_REALM = /^(.*?\/realms\/)([^/]+)\/?$/;

/** Why openid-client's discovery of `issuer` failed. */
export function diagnoseDiscovery(error: unknown, issuer: string, timeoutMs: number): Diagnosis {
  const url = discoveryUrl(issuer);
  const { code, cause } = error as { code?: string; cause?: unknown };
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && cause instanceof Response) {
    return { url, outcome: `HTTP ${cause.status}`, hint: statusHint(cause.status, issuer) };
  }
  if (code === 'OAUTH_RESPONSE_IS_NOT_JSON') {
    const type = cause instanceof Response ? (cause.headers.get('content-type') ?? 'none') : 'unknown';
    return {
      url,
      outcome: `not OIDC metadata (content-type ${type})`,
      hint: 'something answers at this URL, but it is not an OpenID provider; check issuer.url',
    };
  }
  if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
    const named = (cause as { body?: { issuer?: unknown } } | undefined)?.body?.issuer;
    const found = typeof named === 'string' ? JSON.stringify(named.slice(0, 200)) : 'another issuer';
    return {
      url,
      outcome: `the metadata names the issuer ${found}, not ${JSON.stringify(issuer)}`,
      hint: 'issuer.url must equal the issuer the IdP announces (tokens carry it in "iss"); for Keycloak, its hostname setting (KC_HOSTNAME) decides that name',
    };
  }
  if (isTimeout(error))
    return {
      url,
      outcome: `no answer in ${timeoutMs} ms`,
      hint: 'the IdP is slow or a firewall drops the traffic; issuer.httpTimeoutMs sets the limit',
    };
  return networkDiagnosis(error, url, issuer);
}

/** Why a JWKS fetch, a token request or another call to `url` did not get through (network level). */
export function networkDiagnosis(error: unknown, url: string, issuer = url): Diagnosis {
  if (isTimeout(error)) return { url, outcome: 'no answer in time', hint: 'the IdP is slow or a firewall drops the traffic' };
  const code = errorCode(error);
  const host = URL.canParse(issuer) ? new URL(issuer).host : issuer;
  switch (code) {
    case 'ECONNREFUSED':
      return {
        url,
        outcome: 'connection refused (ECONNREFUSED)',
        hint: `nothing listens at ${host}: is the IdP running, and is the port in issuer.url right?`,
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return {
        url,
        outcome: `host name not found (${code})`,
        hint: `${host.replace(/:\d+$/, '')} does not resolve from here; check issuer.url`,
      };
    case 'ECONNRESET':
    case 'EPIPE':
      return { url, outcome: `connection reset (${code})`, hint: 'is it an https URL on an http port, or the reverse?' };
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return {
        url,
        outcome: 'TLS handshake failed (wrong version number)',
        hint: 'the port speaks plain http: use http:// or the https port',
      };
    default:
      if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
        return {
          url,
          outcome: `TLS certificate not trusted (${code})`,
          hint: 'give node the CA that signed it: NODE_EXTRA_CA_CERTS=/path/to/ca.pem',
        };
      }
      return { url, outcome: code ?? firstLine(error), hint: undefined };
  }
}

function statusHint(status: number, issuer: string): string | undefined {
  if (status === 404) {
    const realm = KEYCLOAK_REALM.exec(issuer);
    if (/\/\.well-known\//.test(issuer)) return 'issuer.url is the issuer itself, without /.well-known/...';
    if (realm !== null)
      return `no realm "${realm[2]}" there: check the realm name (case-sensitive); Keycloak's issuer is ${realm[1]}<realm>`;
    return 'no OpenID provider at this URL; for Keycloak the issuer is <base URL>/realms/<realm>';
  }
  if (status === 401 || status === 403)
    return 'the discovery document should be public: is a proxy in front of the IdP asking for credentials?';
  if (status >= 500) return 'the IdP is failing or still starting';
  if (status >= 300 && status < 400) return 'redirects are not followed: give the final URL (https rather than http?)';
  return undefined;
}

/**
 * A refused client-credentials or client-authenticated call (the PAT, the credentials check):
 * Keycloak answers 401 `unauthorized_client` "Invalid client or Invalid client credentials" for
 * a wrong secret, 400 `unauthorized_client` when the client has no service account.
 */
export function diagnoseClientRefusal(
  url: string,
  clientId: string,
  status: number,
  body: { error?: unknown; error_description?: unknown } | undefined,
): Diagnosis {
  const error = typeof body?.error === 'string' ? body.error.slice(0, 64) : undefined;
  const description = typeof body?.error_description === 'string' ? body.error_description.slice(0, 160) : undefined;
  const outcome = `HTTP ${status}${error === undefined ? '' : ` ${error}`}${description === undefined ? '' : ` "${description}"`}`;
  const text = `${error ?? ''} ${description ?? ''}`.toLowerCase();
  let hint: string | undefined;
  if (status === 401 || error === 'invalid_client' || /invalid client|credentials|authentication failed/.test(text)) {
    hint = `the IdP refused client "${clientId}" with this secret: set client.secret / AUTHZ_CLIENT_SECRET (or client.secretFile) to the client's current secret (Keycloak: Clients > ${clientId} > Credentials)`;
  } else if (/service account/.test(text)) {
    hint = `client "${clientId}" has no service account: enable "Service accounts roles" on it (and give the account the uma_protection role)`;
  } else if (error === 'unauthorized_client') {
    hint = `client "${clientId}" may not use this grant; check the client's settings at the IdP`;
  } else if (status >= 500) {
    hint = 'the IdP is failing or still starting';
  }
  return { url: withoutUserinfo(url), outcome, hint };
}

/** True when the error, or one of its causes, is a timeout (fetch's, jose's or openid-client's). */
export function isTimeout(error: unknown): boolean {
  return causes(error).some((link) => {
    const { name, code } = link as { name?: unknown; code?: unknown };
    return name === 'TimeoutError' || name === 'AbortError' || code === 'ERR_JWKS_TIMEOUT' || code === 'OAUTH_TIMEOUT';
  });
}

/**
 * The `outcome` label of `authz_idp_requests_total` for a failed discovery (openid-client's
 * errors), in the same set as idpFetch's (idp/http.ts): `http_<status>` below 500, `server_error`,
 * `timeout`, `network_error`, and `invalid_answer` for a document that is not usable metadata.
 */
export function discoveryOutcome(error: unknown): string {
  const { code, cause } = error as { code?: string; cause?: unknown };
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && cause instanceof Response)
    return cause.status < 500 ? `http_${cause.status}` : 'server_error';
  if (isTimeout(error)) return 'timeout';
  if (typeof code === 'string' && code.startsWith('OAUTH_')) return 'invalid_answer';
  return 'network_error';
}

/** The error and its causes (AggregateError: the first of its errors), at most five deep. */
function causes(error: unknown): unknown[] {
  const list: unknown[] = [];
  let current = error;
  while (list.length < 5 && typeof current === 'object' && current !== null) {
    list.push(current);
    const { errors, cause } = current as { errors?: unknown[]; cause?: unknown };
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : cause; // happy eyeballs: every address refused
  }
  return list;
}

/** The system error code (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED) anywhere in the cause chain. */
function errorCode(error: unknown): string | undefined {
  for (const link of causes(error)) {
    const { code } = link as { code?: unknown };
    // System and TLS codes are upper case; openid-client's OAUTH_*, jose's and ours are skipped.
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) && !/^(OAUTH_|ERR_JOSE|ERR_JWKS|ERR_JWT)/.test(code)) return code;
  }
  return undefined;
}

/** The error's own words: our errors' log detail, else the message's first line. */
function firstLine(error: unknown): string {
  const detail = (error as { detail?: unknown } | undefined)?.detail;
  const text = typeof detail === 'string' ? detail : error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 200);
}
