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
const WELL_FORMED_ESCAPES = /^(?:[^%]|%[0-9A-Fa-f]{2})*$/;
/** `/` or non-empty segments without `%`, `\\` or `#` (the characters the loop below decodes, refuses or checks). */
const PLAIN_PATH = /^(?:\/[^/%\\#]+)+$|^\/$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
/** More rounds than any honest client encodes; MLflow itself gives up after ten. */
const MAX_DECODE_ROUNDS = 10;

/**
 * Normalises an original request target once, before any matching.
 *
 * Every segment is percent-decoded once, as the upstream's server does before routing (NGINX
 * passes the raw `$request_uri` both to us and to the upstream; uvicorn and the WSGI servers
 * decode the path once), so matching on anything less would let `%65` reach a weaker rule.
 * What the upstream would read differently from us is refused, never guessed:
 * - a segment that decodes to a slash, a backslash or a control character;
 * - dot segments (`.`, `..`, raw or encoded): MLflow's routers do not resolve them, so
 *   resolving them here decided on another path than the one executed
 *   (`/gateway/proxy/x/../../../api/...` is a gateway call to MLflow);
 * - a segment whose repeated decoding (MLflow decodes artifact paths until they stop changing)
 *   yields a slash, backslash, control character, dot segment or never settles.
 * Empty segments (repeated or trailing slashes) are dropped: Flask answers them with a redirect
 * to the merged path (or 404), never by running another endpoint.
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
  // Most paths need no work: no escape, backslash, empty or dot segment, nor trailing slash. The loop below would
  // return such a path unchanged (it is visible ASCII, checked above), so it is returned as it is.
  if (PLAIN_PATH.test(rawPath) && !DOT_SEGMENT.test(rawPath)) return { path: rawPath, query };

  const segments: string[] = [];
  for (const rawSegment of rawPath.split('/')) {
    const segment = decodeSegment(rawSegment);
    if (segment === '') continue;
    if (isDotSegment(segment)) throw new RejectedUri({ detail: 'dot segment in path' });
    if (segment.includes('%')) refuseIfRedecodingChangesMeaning(segment);
    segments.push(segment);
  }
  return { path: `/${segments.join('/')}`, query };
}

const isDotSegment = (segment: string): boolean => segment === '.' || segment === '..';

function decodeSegment(raw: string): string {
  let decoded = raw;
  if (raw.includes('%')) {
    if (!WELL_FORMED_ESCAPES.test(raw)) throw new RejectedUri({ detail: 'malformed percent-encoding' });
    const once = percentDecode(raw);
    if (once === undefined) throw new RejectedUri({ detail: 'percent-encoding is not UTF-8' });
    if (once.includes('/')) throw new RejectedUri({ detail: 'encoded slash in path' });
    decoded = once;
  }
  if (FORBIDDEN_DECODED.test(decoded)) throw new RejectedUri({ detail: 'control character or backslash in path' });
  return decoded;
}

/**
 * One round of percent-decoding: well-formed `%XX` escapes become bytes (a `%` not followed by
 * two hex digits stays, as Python's `unquote` leaves it), the result read as strict UTF-8.
 * @returns undefined when the bytes are not UTF-8
 */
export function percentDecode(text: string): string | undefined {
  if (!text.includes('%')) return text;
  const parts: Buffer[] = [];
  let last = 0;
  for (const octet of text.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    parts.push(Buffer.from(text.slice(last, octet.index), 'utf8'), Buffer.of(Number.parseInt(octet[1]!, 16)));
    last = octet.index + 3;
  }
  parts.push(Buffer.from(text.slice(last), 'utf8'));
  try {
    return utf8.decode(Buffer.concat(parts));
  } catch {
    return undefined;
  }
}

/**
 * Decodes `text` until it stops changing (what MLflow does to artifact paths before use).
 * @returns undefined when it does not settle within {@link MAX_DECODE_ROUNDS} or is not UTF-8
 */
export function decodeToFixedPoint(text: string): string | undefined {
  let current = text;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    const next = percentDecode(current);
    if (next === undefined) return undefined;
    if (next === current) return current;
    current = next;
  }
  return undefined;
}

/** A segment still holding `%` after one decoding: refused when a later decoding would give it structure. */
function refuseIfRedecodingChangesMeaning(segment: string): void {
  const settled = decodeToFixedPoint(segment);
  if (settled === undefined) throw new RejectedUri({ detail: 'path does not settle under repeated percent-decoding' });
  if (settled === segment) return;
  if (settled.includes('/') || FORBIDDEN_DECODED.test(settled) || isDotSegment(settled)) {
    throw new RejectedUri({ detail: 'multiply percent-encoded separator, control character or dot segment' });
  }
}

const METHOD = /^[A-Za-z]{1,16}$/;

/** Upper-cases an HTTP method; `undefined` for anything that is not a plain method token. */
export function normalizeMethod(raw: string): string | undefined {
  return METHOD.test(raw) ? raw.toUpperCase() : undefined;
}
