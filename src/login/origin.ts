import type { IncomingHttpHeaders } from 'node:http';

/**
 * Where a browser request came from, relative to this site, from what the browser itself
 * writes and a page cannot forge: Fetch Metadata's `Sec-Fetch-Site`
 * (https://w3c.github.io/webappsec-fetch-metadata/), `Origin` and `Referer`.
 *
 * - `same-origin`: shown to come from this site (or typed by the user: `Sec-Fetch-Site: none`).
 * - `cross-site`, `same-site`: Fetch Metadata says another site, or a sibling subdomain, sent it.
 * - `cross-origin`: `Origin` or `Referer` names another origin (or `Origin: null`).
 * - `unknown`: no evidence either way (a non-browser client, an old browser, a no-referrer page).
 */
export type Provenance = 'same-origin' | 'cross-site' | 'same-site' | 'cross-origin' | 'unknown';

/** Methods that change nothing (RFC 9110 §9.2.1); every other method is checked against CSRF. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** True for a method that may change state (POST, PUT, PATCH, DELETE, and anything unknown). */
export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The origin an `Origin` or `Referer` value names, compared as a browser does; undefined when unreadable. */
function originOf(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const origin = new URL(value).origin;
  return origin === 'null' ? undefined : origin;
}

/**
 * Fetch Metadata when the browser sends it (it decides alone: a page cannot set it); otherwise
 * `Origin`, then `Referer`, compared with the site's own origin `base`.
 */
export function provenance(headers: IncomingHttpHeaders, base: URL): Provenance {
  const site = single(headers['sec-fetch-site']);
  if (site === 'same-origin' || site === 'none') return 'same-origin';
  if (site === 'cross-site' || site === 'same-site') return site;
  return originHeaders(headers, base);
}

/** `Origin` when present (even `null`), else `Referer`; `unknown` when neither is sent. */
function originHeaders(headers: IncomingHttpHeaders, base: URL): Provenance {
  const origin = single(headers.origin);
  if (origin !== undefined && origin !== '') return originOf(origin) === base.origin ? 'same-origin' : 'cross-origin';
  const referer = single(headers.referer);
  if (referer !== undefined && referer !== '') return originOf(referer) === base.origin ? 'same-origin' : 'cross-origin';
  return 'unknown';
}

/**
 * The CSRF check for a state-changing request that a browser's cookie authenticates, in the
 * manner of Django's: `Sec-Fetch-Site: cross-site|same-site` is refused, and `Origin` (or
 * `Referer` when the browser sends no `Origin`) must name this site's origin exactly; a
 * request that shows neither is refused too, since nothing proves a page of this site sent it.
 * Browsers send `Origin` on every POST, PUT, PATCH and DELETE, same-origin ones included, so
 * the MLflow UI's own calls pass. Returns why the request is refused, or undefined to go on.
 */
export function crossOriginRefusal(headers: IncomingHttpHeaders, base: URL | undefined): string | undefined {
  if (base === undefined) return "the site's origin is unknown (host not in login.allowedHosts; set login.publicUrl)";
  const site = single(headers['sec-fetch-site']);
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
  const found = originHeaders(headers, base);
  if (found === 'same-origin') return undefined;
  if (found === 'unknown') return 'neither Origin nor Referer names this site';
  return headers.origin !== undefined && headers.origin !== '' ? `Origin is not ${base.origin}` : `Referer is not on ${base.origin}`;
}
