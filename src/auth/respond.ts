import type { ServerResponse } from 'node:http';
import { PermissionTicketChallenge, RateLimited, Throttled, type AuthzError } from '../errors.js';
import type { Identity } from '../tokens/verify.js';
import { ACCEL_EXPIRES } from './nginx-cache.js';
import { REASON_HEADER } from './reason.js';

/** Identity headers, oauth2-proxy's names, so existing NGINX configs drop in. */
export const IDENTITY_HEADERS = {
  user: 'X-Auth-Request-User',
  email: 'X-Auth-Request-Email',
  preferredUsername: 'X-Auth-Request-Preferred-Username',
  groups: 'X-Auth-Request-Groups',
  subject: 'X-Auth-Request-Subject',
} as const;

/** Printable ASCII without `%` and `,`: the characters {@link headerSafe} keeps as they are. */
const PLAIN_HEADER_VALUE = /^[\x20-\x24\x26-\x2b\x2d-\x7e]*$/;

/**
 * Makes a claim value safe for an HTTP header: printable ASCII stays as it is, and anything
 * else (non-ASCII, controls, `%`, and the list separator `,`) is percent-encoded as UTF-8, so
 * no claim can split a header or inject another; the result is cut to `maxBytes` without
 * breaking an escape.
 */
export function headerSafe(value: string, maxBytes: number): string {
  // The common case, a short printable claim, is already its own encoding: no per-character copy (this runs for
  // every header of every allow).
  if (value.length <= maxBytes && PLAIN_HEADER_VALUE.test(value)) return value;
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    const piece = code >= 0x20 && code < 0x7f && char !== '%' && char !== ',' ? char : percentEncode(char);
    if (out.length + piece.length > maxBytes) break;
    out += piece;
  }
  return out;
}

function percentEncode(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** Groups as a comma-separated list, whole groups only, within `maxBytes`. */
export function groupsHeader(groups: readonly string[], maxBytes: number): string {
  let out = '';
  for (const group of groups) {
    const safe = headerSafe(group.replace(/^\//, ''), maxBytes);
    const next = out === '' ? safe : `${out},${safe}`;
    if (next.length > maxBytes) break;
    out = next;
  }
  return out;
}

/**
 * 200: allowed, with the caller's identity for the upstream, and how many seconds NGINX's
 * decision cache may keep this answer (`accelExpires`, auth/nginx-cache.ts; "0": not at all).
 */
export function sendAllow(res: ServerResponse, identity: Identity | undefined, maxBytes: number, accelExpires = '0'): void {
  res.setHeader(ACCEL_EXPIRES, accelExpires);
  if (identity !== undefined) {
    const user = identity.username ?? identity.subject;
    res.setHeader(IDENTITY_HEADERS.user, headerSafe(user, maxBytes));
    res.setHeader(IDENTITY_HEADERS.subject, headerSafe(identity.subject, maxBytes));
    if (identity.username !== undefined) res.setHeader(IDENTITY_HEADERS.preferredUsername, headerSafe(identity.username, maxBytes));
    if (identity.email !== undefined) res.setHeader(IDENTITY_HEADERS.email, headerSafe(identity.email, maxBytes));
    if (identity.groups.length > 0) res.setHeader(IDENTITY_HEADERS.groups, groupsHeader(identity.groups, maxBytes));
  }
  res.statusCode = 200;
  res.end();
}

/**
 * 401 with a Bearer challenge (RFC 6750 §3: no error code when no credentials were sent), or
 * the UMA challenge with a permission ticket (decide/challenge.ts), or a Basic challenge for
 * refused or throttled Basic credentials (throttling adds `X-Authz-Retry-After`, for NGINX's 429),
 * 403, 400 or 503 without a body: NGINX reads only the status and the headers it picks. `reason`
 * (auth/reason.ts, already JSON- and header-safe) goes into `X-Authz-Reason`, which NGINX writes
 * into the JSON `message` of its 401/403 body.
 */
export function sendRefusal(res: ServerResponse, error: AuthzError, realm: string, reason?: string): void {
  if (error instanceof PermissionTicketChallenge) {
    // UMA 2.0 Grant §3.2; the ticket's characters were checked where it was received.
    res.setHeader('WWW-Authenticate', `UMA realm="${realm}", as_uri="${error.asUri}", ticket="${error.ticket}"`);
  } else if (error.code === 'invalid_credentials' || error instanceof Throttled) {
    // The caller sent Basic credentials: challenge in kind (RFC 7617), so the MLflow client shows it.
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    if (error instanceof Throttled) res.setHeader('X-Authz-Retry-After', String(error.retryAfterSeconds));
  } else if (error.status === 401) {
    const challenge = error.code === 'invalid_token' ? `Bearer realm="${realm}", error="invalid_token"` : `Bearer realm="${realm}"`;
    res.setHeader('WWW-Authenticate', challenge);
    // Per-subject lookup limit (decide/limiter.ts): NGINX answers 429 + Retry-After, as for a Basic lockout.
    if (error instanceof RateLimited) res.setHeader('X-Authz-Retry-After', String(error.retryAfterSeconds));
  }
  if (reason !== undefined) res.setHeader(REASON_HEADER, reason);
  // Never kept by NGINX's decision cache: a refusal must end as soon as the permission is granted.
  res.setHeader(ACCEL_EXPIRES, '0');
  res.statusCode = error.status;
  res.end();
}
