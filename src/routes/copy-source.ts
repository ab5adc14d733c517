import { RejectedUri, UnmappedRoute } from '../errors.js';
import type { RouteMatch, RouteMatcher } from './match.js';

/** Longer than any S3 copy source (bucket ≤ 63 bytes, key ≤ 1024 bytes, percent-encoded). */
const MAX_COPY_SOURCE_LENGTH = 4096;
/** S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The `/<bucket>/<key>` an S3 `CopyObject` or `UploadPartCopy` reads, from its raw
 * `x-amz-copy-source` header, as MinIO finds it (cmd/object-handlers.go: `url.Parse`, whose
 * path is percent-decoded, then the first segment is the bucket): fragment and query
 * (`?versionId=`) cut off, the rest percent-decoded once, one leading `/` optional.
 *
 * Everything on which a Go URL parser and this reading could disagree is refused (undefined)
 * rather than guessed: characters outside printable ASCII, `//authority`, a bad `%` escape,
 * an empty bucket or key, a bucket that is not a valid S3 bucket name (which also rules out
 * `scheme:`), and `.`/`..` key segments.
 */
export function copySourcePath(raw: string): string | undefined {
  if (raw.length === 0 || raw.length > MAX_COPY_SOURCE_LENGTH || !/^[\x21-\x7e]+$/.test(raw)) return undefined;
  const withoutFragment = raw.split('#', 1)[0]!;
  const encoded = withoutFragment.split('?', 1)[0]!;
  if (encoded.startsWith('//')) return undefined; // Go would read an authority, then a different path
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  const path = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  const slash = path.indexOf('/');
  if (slash <= 0) return undefined;
  const bucket = path.slice(0, slash);
  const key = path.slice(slash + 1);
  if (!BUCKET_NAME.test(bucket) || key === '' || /[\x00-\x1f\x7f]/.test(key)) return undefined;
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  return `/${bucket}/${key}`;
}

/**
 * The second permission of a copy: whatever reading the source object needs in the same route
 * table (GET of its path), since a copy discloses the source to whoever may read the
 * destination. undefined when reading the source needs no decision (a public route).
 * @throws {RejectedUri} malformed copy source; {UnmappedRoute} the source cannot be read at all
 */
export function copySourceRoute(matcher: RouteMatcher, raw: string): RouteMatch | undefined {
  const path = copySourcePath(raw);
  if (path === undefined) throw new RejectedUri({ detail: 'malformed x-amz-copy-source' });
  const outcome = matcher.match('GET', path);
  if (outcome.kind !== 'matched') throw new UnmappedRoute('route_not_mapped', { detail: 'x-amz-copy-source names no readable route' });
  const route = outcome.match;
  return route.public || route.authenticated ? undefined : route;
}
