import { RejectedUri } from '../errors.js';

/** A request target after normalisation: what routes are matched against. */
export interface NormalizedUri {
  /** Decoded path: no dot segments, no empty segments, no trailing slash (except `/`). */
  path: string;
  /** The raw query string without `?` (kept for per-object lookups, never matched). */
  query: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
// C0 controls, DEL and the backslash (some servers treat it as a separator).
const FORBIDDEN_DECODED = /[\x00-\x1f\x7f\\]/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;

/**
 * Normalises an original request target once, before any matching.
 *
 * Every segment is percent-decoded fully (MLflow's WSGI server decodes the whole path before
 * routing, so matching on anything less would let `%65` or `%2e%2e` reach a weaker rule);
 * a segment that decodes to a slash, a backslash or a control character is rejected because
 * the upstream would route it differently from us. Dot segments are removed as RFC 3986
 * §5.2.4 says, and a `..` that would climb above the root is rejected. Empty segments
 * (duplicate or trailing slashes) are dropped.
 *
 * @throws {RejectedUri} for anything malformed: never guess.
 */
export function normalizeUri(rawTarget: string, maxLength: number): NormalizedUri {
  if (rawTarget.length === 0) throw new RejectedUri({ detail: 'empty URI' });
  if (rawTarget.length > maxLength) throw new RejectedUri({ detail: `URI longer than ${maxLength}` });

  // RFC 9112 §3.2: a request target is visible ASCII; raw spaces or 8-bit bytes are not sent
  // by well-behaved clients and would be read differently by different parsers.
  if (!VISIBLE_ASCII.test(rawTarget)) throw new RejectedUri({ detail: 'non-ASCII or space in URI' });

  let target = rawTarget;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    // Absolute-form request targets (RFC 9112 §3.2.2) carry scheme and authority first.
    const absolute = ABSOLUTE_FORM.exec(target);
    if (absolute === null) throw new RejectedUri({ detail: 'URI is not origin-form' });
    target = target.slice(absolute[0].length) || '/';
    if (target.charCodeAt(0) !== 0x2f) throw new RejectedUri({ detail: 'URI is not origin-form' });
  }

  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt + 1);
  if (rawPath.includes('#')) throw new RejectedUri({ detail: 'fragment in request URI' });

  const segments: string[] = [];
  for (const rawSegment of rawPath.split('/')) {
    const segment = decodeSegment(rawSegment);
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.pop() === undefined) throw new RejectedUri({ detail: 'dot segment above root' });
      continue;
    }
    segments.push(segment);
  }
  return { path: `/${segments.join('/')}`, query };
}

function decodeSegment(raw: string): string {
  let decoded = raw;
  if (raw.includes('%')) {
    if (!/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(raw)) throw new RejectedUri({ detail: 'malformed percent-encoding' });
    const bytes = Buffer.from(raw.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))), 'latin1');
    try {
      decoded = utf8.decode(bytes);
    } catch {
      throw new RejectedUri({ detail: 'percent-encoding is not UTF-8' });
    }
    if (decoded.includes('/')) throw new RejectedUri({ detail: 'encoded slash in path' });
  }
  if (FORBIDDEN_DECODED.test(decoded)) throw new RejectedUri({ detail: 'control character or backslash in path' });
  return decoded;
}

const METHOD = /^[A-Za-z]{1,16}$/;

/** Upper-cases an HTTP method; `undefined` for anything that is not a plain method token. */
export function normalizeMethod(raw: string): string | undefined {
  return METHOD.test(raw) ? raw.toUpperCase() : undefined;
}
