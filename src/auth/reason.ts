import type { Config } from '../config/schema.js';
import type { AuthzError } from '../errors.js';

/**
 * The refusal's explanation for the end user, sent to NGINX in this header on 401 and 403.
 * NGINX picks it up with `auth_request_set $authz_reason $upstream_http_x_authz_reason` and
 * writes it into the JSON `message` of its error body (nginx/snippets/authz-errors.conf),
 * which is what the MLflow client's exception and the MLflow UI show.
 */
export const REASON_HEADER = 'X-Authz-Reason';

/** Upper bound of the whole reason, in bytes (ASCII only, so also characters). */
export const REASON_MAX_BYTES = 400;
/** Upper bound of one variable part (a user name, a resource name). */
const PART_MAX_BYTES = 96;

/** What a refusal is about; only what the caller itself sent or is. */
export interface RefusalContext {
  method: string | undefined;
  /** The permission the request needed, when the route was matched. */
  resource: string | undefined;
  scope: string | undefined;
  /** The caller's own user name (or subject), when it was authenticated. */
  user: string | undefined;
}

/**
 * Makes a variable part safe for the reason: the reason is pasted by NGINX into a JSON string
 * literal without escaping, so it must hold no `"`, `\` or control character; it must also be
 * a valid header value and harmless as text in a web page. Printable ASCII other than
 * `"`, `\`, `%`, `<`, `>`, `&`, `'` and the backtick stays; everything else is percent-encoded
 * as UTF-8. Cut to `maxBytes` without splitting an escape.
 */
export function reasonSafe(value: string, maxBytes = PART_MAX_BYTES): string {
  if (value.length <= maxBytes && PLAIN.test(value)) return value; // the usual user or resource name
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    const plain = code >= 0x20 && code < 0x7f && !UNSAFE.has(char);
    const piece = plain
      ? char
      : [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    if (out.length + piece.length > maxBytes) break;
    out += piece;
  }
  return out;
}

const UNSAFE = new Set(['"', '\\', '%', '<', '>', '&', "'", '`']);
/** Printable ASCII without the characters of {@link UNSAFE} (" % & ' < > \ `): nothing to encode. */
const PLAIN = /^[\x20\x21\x23\x24\x28-\x3b\x3d\x3f-\x5b\x5d-\x5f\x61-\x7e]*$/;

/**
 * The ways this deployment accepts to authenticate, for the 401 message; built once from the
 * configuration (Bearer always; Basic when `basic.enabled`; the browser login when `login.enabled`).
 * It names no user and no resource: a 401 reaches callers who proved nothing.
 */
export function authenticationWays(config: Config): string {
  const ways = ['an access token (Authorization: Bearer; MLflow client: MLFLOW_TRACKING_TOKEN)'];
  if (config.basic.enabled)
    ways.push('a user name and password (HTTP Basic; MLflow client: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)');
  const start = config.login.publicUrl === undefined ? '/oauth2/start' : `${config.login.publicUrl.replace(/\/+$/, '')}/oauth2/start`;
  const login = config.login.enabled ? `, or sign in with a browser at ${reasonSafe(start, 160)}` : '';
  return `send ${ways.join(' or ')}${login}`;
}

/**
 * The explanation of one refusal, from fixed texts plus the route's `resource#scope` and the
 * caller's own user name; never a token, a claim other than the user name, or anything about
 * another user. Built only on refusals (the allow path never calls it). A 401 names neither
 * the resource nor a user. Returns `undefined` for statuses NGINX shows no body for (400, 503).
 */
export function refusalReason(error: AuthzError, context: RefusalContext, ways: string): string | undefined {
  const text = reasonText(error, context, ways);
  return text === undefined ? undefined : text.slice(0, REASON_MAX_BYTES);
}

function reasonText(error: AuthzError, context: RefusalContext, ways: string): string | undefined {
  switch (error.code) {
    case 'no_credentials':
    case 'unsupported_credentials':
      return `Authentication required: ${ways}`;
    case 'invalid_token':
      return `Authentication required: the access token was not accepted (expired, revoked or not for this site); ${ways}`;
    case 'invalid_credentials':
      return `Authentication required: the user name or password was not accepted; ${ways}`;
    case 'uma_ticket':
      return 'Authentication required: a requesting party token (RPT) is needed; exchange the permission ticket in WWW-Authenticate at the authorization server';
    case 'throttled':
      return 'Too many failed sign-in attempts; retry later';
    case 'access_denied':
      return context.resource === undefined || context.scope === undefined
        ? `Permission denied${forUser(context)}`
        : `Permission denied: missing permission ${reasonSafe(context.resource)}#${reasonSafe(context.scope, 32)}${forUser(context)}`;
    case 'route_misconfigured':
      return `Permission denied: the permission ${permission(context)} is not set up at the authorization server (the service log has details)`;
    case 'route_not_mapped':
    case 'method_not_mapped':
      return `Permission denied: no permission is mapped for ${reasonSafe(context.method ?? 'this method', 16)} on this path (default deny)`;
    case 'bad_request_uri':
      return 'Permission denied: the request URI was rejected (encoded slash, dot segment, control character or too long)';
    case 'cross_origin_request':
      return 'Permission denied: a state-changing request from another site with the session cookie was refused';
    case 'unknown_service':
      return 'Permission denied: this front is not configured for a route table (the service log has details)';
    default:
      return undefined;
  }
}

function forUser(context: RefusalContext): string {
  return context.user === undefined ? '' : ` for user ${reasonSafe(context.user)}`;
}

function permission(context: RefusalContext): string {
  return context.resource === undefined || context.scope === undefined
    ? 'for this route'
    : `${reasonSafe(context.resource)}#${reasonSafe(context.scope, 32)}`;
}
