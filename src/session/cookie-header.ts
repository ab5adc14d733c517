/** Reading and writing cookies (RFC 6265), just what the service needs. */

/** The value of cookie `name` in a Cookie header, or undefined. First occurrence wins. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join('; ') : header;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end === -1) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq !== -1 && eq < end && text.slice(start, eq).trim() === name) {
      const value = text.slice(eq + 1, end).trim();
      return value === '' ? undefined : value;
    }
    start = end + 1;
  }
  return undefined;
}

export interface CookieOptions {
  /** Secure attribute: set unless the site is plain http on a loopback host. */
  secure: boolean;
  path: string;
  /** Seconds; 0 deletes the cookie; undefined makes a browser-session cookie. */
  maxAgeSeconds?: number;
}

/**
 * A Set-Cookie value: always HttpOnly (no script reads it) and SameSite=Lax (sent on top-level
 * navigations, which the IdP's redirect back to the callback is; not on cross-site subrequests).
 */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  let out = `${name}=${value}; Path=${options.path}; HttpOnly; SameSite=Lax`;
  if (options.secure) out += '; Secure';
  if (options.maxAgeSeconds !== undefined) out += `; Max-Age=${options.maxAgeSeconds}`;
  return out;
}
