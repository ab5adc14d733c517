import { Unauthenticated } from '../errors.js';

export type Credentials = { kind: 'bearer'; token: string } | { kind: 'basic'; username: string; password: string };

// RFC 6750 §2.1 b64token; the scheme name is case-insensitive (RFC 9110 §11.1).
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BASIC = /^basic +([A-Za-z0-9+/]+=*) *$/i;
const MAX_TOKEN_LENGTH = 16_384;

/**
 * Reads the caller's credentials from the Authorization header.
 * @throws {Unauthenticated} `no_credentials` when absent; `invalid_token` when malformed
 */
export function extractCredentials(authorization: string | undefined): Credentials {
  if (authorization === undefined || authorization === '') throw new Unauthenticated('no_credentials');
  if (authorization.length > MAX_TOKEN_LENGTH) throw new Unauthenticated('invalid_token', { detail: 'Authorization header too long' });

  const bearer = BEARER.exec(authorization);
  if (bearer !== null) return { kind: 'bearer', token: bearer[1]! };

  const basic = BASIC.exec(authorization);
  if (basic !== null) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new Unauthenticated('invalid_token', { detail: 'malformed Basic credentials' });
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (/^(bearer|basic)\b/i.test(authorization)) throw new Unauthenticated('invalid_token', { detail: 'malformed credentials' });
  throw new Unauthenticated('unsupported_credentials', { detail: 'unsupported Authorization scheme' });
}
