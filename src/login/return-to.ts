import type { IncomingMessage } from 'node:http';

const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

/** Loopback hosts (any port): always trusted, so the development stack needs no configuration. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}

function hostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const lower = host.toLowerCase();
  return isLoopbackHost(lower) || allowedHosts.some((allowed) => allowed.toLowerCase() === lower);
}

/**
 * The site's external base URL, for the redirect URI and return targets: `login.publicUrl`
 * when set; otherwise what NGINX says in X-Forwarded-Proto/Host (the `/oauth2/` location sets
 * both), accepted only for an allowed host, so nobody can make the service send a browser's
 * authorization code to a host of their choosing. undefined when the host is not allowed.
 */
export function publicBase(req: IncomingMessage, publicUrl: string | undefined, allowedHosts: readonly string[]): URL | undefined {
  if (publicUrl !== undefined) return new URL(`${publicUrl.replace(/\/+$/, '')}/`);
  const forwardedHost = req.headers['x-forwarded-host'];
  const host = typeof forwardedHost === 'string' && forwardedHost !== '' ? forwardedHost : req.headers.host;
  if (host === undefined || !/^[A-Za-z0-9.\-[\]:]+$/.test(host) || !hostAllowed(host, allowedHosts)) return undefined;
  const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return new URL(`${proto}://${host}/`);
}

/**
 * The site's base URL from an origin the proxy reported (ingress-nginx's X-Original-URL):
 * `login.publicUrl` when set, else that origin when its host is allowed; undefined otherwise.
 */
export function siteBase(origin: URL, publicUrl: string | undefined, allowedHosts: readonly string[]): URL | undefined {
  if (publicUrl !== undefined) return new URL(`${publicUrl.replace(/\/+$/, '')}/`);
  return hostAllowed(origin.host, allowedHosts) ? new URL(`${origin.protocol}//${origin.host}/`) : undefined;
}

/**
 * Where a browser may be sent after login: a path on this site, or an absolute http(s) URL on
 * this site's host or an allowed host. Anything else (`//evil.com`, `/\evil.com`,
 * `https://evil.com`, `javascript:`, userinfo tricks, control characters) becomes `/`: no
 * open redirect (RFC 9700 §4.11).
 *
 * The value returned is the Location header that will be sent, checked as such by
 * {@link isSameOriginLocation}: a path like `/.//evil.example` or `/a/..//evil.example` is
 * harmless as written but resolves to `//evil.example`, which a browser reads as another host.
 */
export function safeReturnTo(rd: string | undefined, base: URL, allowedHosts: readonly string[]): string {
  // Browsers treat \ as / and drop tabs/newlines when parsing URLs: refuse them outright.
  if (rd === undefined || rd === '' || rd.length > 4096 || /[\\\x00-\x20\x7f]/.test(rd)) return '/';
  if (rd.startsWith('/')) {
    if (rd.startsWith('//')) return '/';
    const resolved = new URL(rd, base);
    if (resolved.origin !== base.origin) return '/';
    const location = `${resolved.pathname}${resolved.search}${resolved.hash}`;
    return isSameOriginLocation(location, base) ? location : '/';
  }
  if (!URL.canParse(rd)) return '/';
  const target = new URL(rd);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return '/';
  if (target.username !== '' || target.password !== '') return '/';
  if (
    target.host.toLowerCase() !== base.host.toLowerCase() &&
    !allowedHosts.some((host) => host.toLowerCase() === target.host.toLowerCase())
  )
    return '/';
  return target.href;
}

/**
 * A relative Location value (as sent, byte for byte) that a browser resolves to this site:
 * parsed with the WHATWG URL parser against the site's base, as a browser parses it (tabs and
 * newlines dropped, `\` read as `/`), it keeps the site's origin, and it is not a
 * scheme-relative reference (`//host`, `/\host`) once leading blanks are ignored.
 */
export function isSameOriginLocation(location: string, base: URL): boolean {
  const asParsed = location.replace(/[\t\n\r]/g, '').replace(/^[\x00-\x20]+/, '');
  if (!asParsed.startsWith('/') || /^[/\\][/\\]/.test(asParsed)) return false;
  if (!URL.canParse(location, base.href)) return false;
  return new URL(location, base).origin === base.origin;
}

/** The Secure cookie attribute: on, except for plain http on a loopback host (the development stack). */
export function cookieSecure(base: URL): boolean {
  return !(base.protocol === 'http:' && isLoopbackHost(base.host));
}
