/**
 * One error hierarchy for every way a decision can end other than "allow".
 *
 * Each error knows its HTTP status, a stable code (used as the `reason` label in metrics and
 * the audit log) and what may be shown to the client. Third-party errors (jose, fetch,
 * openid-client) are translated into these at the module that calls the library, nowhere else.
 */
export type ErrorCode =
  | 'missing_original_request'
  | 'bad_original_method'
  | 'unknown_service'
  | 'bad_request_uri'
  | 'route_not_mapped'
  | 'method_not_mapped'
  | 'no_credentials'
  | 'unsupported_credentials'
  | 'invalid_token'
  | 'invalid_credentials'
  | 'throttled'
  | 'rate_limited'
  | 'cross_origin_request'
  | 'access_denied'
  | 'route_misconfigured'
  | 'uma_ticket'
  | 'idp_unavailable';

export interface AuthzErrorOptions {
  /** Detail for the log only; never sent to the client. */
  detail?: string;
  cause?: unknown;
}

export abstract class AuthzError extends Error {
  abstract readonly status: 400 | 401 | 403 | 503;
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  protected constructor(code: ErrorCode, message: string, options: AuthzErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.detail = options.detail;
  }
}

/** NGINX sent something we cannot read: a deployment error, not a client one. */
export class BadOriginalRequest extends AuthzError {
  readonly status = 400;
  constructor(code: 'missing_original_request' | 'bad_original_method', options?: AuthzErrorOptions) {
    super(code, 'the auth_request subrequest lacks a readable X-Original-Method/X-Original-URI', options);
  }
}

/**
 * The decision path names no configured route table (`/auth/<table>`), or the subrequest still
 * carries the retired `X-Authz-Service` header. A deployment error, answered 403 (fail closed;
 * NGINX turns a 400 into a 500 for the client) and logged.
 */
export class UnknownRouteTable extends AuthzError {
  readonly status = 403;
  constructor(options?: AuthzErrorOptions) {
    super('unknown_service', 'route not permitted', options);
  }
}

/**
 * The client's URI is malformed or hostile (encoded slash, NUL, escaping root, too long).
 * 403 rather than 400: NGINX turns any other status from auth_request into a 500.
 */
export class RejectedUri extends AuthzError {
  readonly status = 403;
  constructor(options?: AuthzErrorOptions) {
    super('bad_request_uri', 'request URI rejected', options);
  }
}

/**
 * The subrequest describes the original request twice, differently (X-Original-URI against
 * X-Original-URL): one of the two is the client's. Refused (403, fail closed) and always
 * logged: neither is picked.
 */
export class ConflictingOriginalRequest extends RejectedUri {}

/** Default deny: nobody mapped this route (or this method on it). */
export class UnmappedRoute extends AuthzError {
  readonly status = 403;
  constructor(code: 'route_not_mapped' | 'method_not_mapped', options?: AuthzErrorOptions) {
    super(code, 'route not permitted', options);
  }
}

/** No usable credentials: answered with a Bearer challenge (RFC 6750 §3). */
export class Unauthenticated extends AuthzError {
  readonly status = 401;
  constructor(code: 'no_credentials' | 'unsupported_credentials' | 'invalid_token', options?: AuthzErrorOptions) {
    super(code, code === 'invalid_token' ? 'the access token is invalid' : 'authentication required', options);
  }
}

/**
 * Basic credentials the IdP refused (wrong user or password): answered with a Basic challenge,
 * which the MLflow client reports as is.
 */
export class BadCredentials extends AuthzError {
  readonly status = 401;
  constructor(options?: AuthzErrorOptions) {
    super('invalid_credentials', 'invalid username or password', options);
  }
}

/**
 * Too many failed Basic attempts for this user or client address: no IdP call is made until
 * the lockout ends. 401 (NGINX accepts only 401/403 from auth_request) with the wait in
 * `X-Authz-Retry-After`, which the NGINX snippet turns into 429 + Retry-After.
 */
export class Throttled extends AuthzError {
  readonly status = 401;
  constructor(
    readonly retryAfterSeconds: number,
    readonly by: 'user' | 'address',
    options?: AuthzErrorOptions,
  ) {
    super('throttled', 'too many failed attempts', options);
  }
}

/**
 * One subject asked for more IdP lookups on request-named objects (experiment ids, bucket
 * names, Keycloak URIs) than its per-subject token bucket allows (decide/limiter.ts): refused
 * without asking the IdP, and never cached as a decision. Answered like {@link Throttled}:
 * 401 with `X-Authz-Retry-After`, which the NGINX snippet turns into 429 + Retry-After.
 */
export class RateLimited extends AuthzError {
  readonly status = 401;
  constructor(
    readonly retryAfterSeconds: number,
    options?: AuthzErrorOptions,
  ) {
    super('rate_limited', 'too many lookups', options);
  }
}

/** An authenticated caller lacks the permission. */
export class Forbidden extends AuthzError {
  readonly status = 403;
  constructor(code: 'access_denied' | 'route_misconfigured', options?: AuthzErrorOptions) {
    super(code, 'permission denied', options);
  }
}

/**
 * A state-changing request authenticated by the browser's session cookie that another page may
 * have sent (CSRF): its Sec-Fetch-Site, Origin or Referer does not show this site (login/origin.ts).
 */
export class CrossOriginRequest extends AuthzError {
  readonly status = 403;
  constructor(options?: AuthzErrorOptions) {
    super('cross_origin_request', 'cross-origin request with the session cookie refused', options);
  }
}

/**
 * The UMA challenge (UMA 2.0 Grant §3.2): the caller presented no RPT, so it is sent to the
 * authorization server with a permission ticket for the resource and scope it needs. 401,
 * like any challenge; the ticket and `as_uri` go into `WWW-Authenticate`, never into a log.
 */
export class PermissionTicketChallenge extends AuthzError {
  readonly status = 401;
  constructor(
    readonly ticket: string,
    readonly asUri: string,
    options?: AuthzErrorOptions,
  ) {
    super('uma_ticket', 'a requesting party token is required', options);
  }
}

/** The IdP could not answer (timeout, 5xx, unreachable): fail closed, never open. */
export class IdpUnavailable extends AuthzError {
  readonly status = 503;
  constructor(options?: AuthzErrorOptions) {
    super('idp_unavailable', 'authorization server unavailable', options);
  }
}
