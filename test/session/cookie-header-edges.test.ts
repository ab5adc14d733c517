/**
 * Bounds of the Cookie header parser and of Set-Cookie, found unguarded by the mutation run of
 * src/session/cookie-header.ts (docs/mutation.md, round 4): a header split over several lines, blanks
 * around a value, a cookie without `=`, and a cookie with no Max-Age.
 */
import { readCookie, serializeCookie } from '../../src/session/cookie-header.js';

const NAME = 'nginx_authz_session';

describe('readCookie, edges', () => {
  it('reads a cookie from a header given as several lines, which are joined with "; "', () => {
    expect(readCookie(['a=1', `${NAME}=v.a.l`], NAME)).toBe('v.a.l');
    expect(readCookie(['a=1', 'b=2'], 'b')).toBe('2');
    // Joined without a separator, "a=1" and "b=2" would read as the one cookie "a" = "1b=2".
    expect(readCookie(['a=1', 'b=2'], 'a')).toBe('1');
    expect(readCookie([], NAME)).toBeUndefined();
  });

  it('drops the blanks around a value, and takes a value of blanks as no value', () => {
    expect(readCookie(`${NAME}= v.a.l ; b=2`, NAME)).toBe('v.a.l');
    expect(readCookie(`a=1; ${NAME}=v.a.l `, NAME)).toBe('v.a.l');
    expect(readCookie(`${NAME}=   ; b=2`, NAME)).toBeUndefined();
  });

  it('never reads a cookie without "=" (or the text up to another cookie\'s "=") as the one asked for', () => {
    // Without the "=" check the name would be compared with the text up to one character from the end.
    expect(readCookie(`${NAME}x`, NAME)).toBeUndefined();
    expect(readCookie(NAME, NAME)).toBeUndefined();
    expect(readCookie(`${NAME}; other=1`, NAME)).toBeUndefined();
    expect(readCookie(`flag; ${NAME}=v`, NAME)).toBe('v');
  });

  it('keeps an "=" inside the value and stops at the next ";"', () => {
    expect(readCookie(`${NAME}=a=b;c=d`, NAME)).toBe('a=b');
  });
});

describe('serializeCookie, edges', () => {
  it('writes no Max-Age for a browser-session cookie', () => {
    expect(serializeCookie('s', 'v', { secure: true, path: '/' })).toBe('s=v; Path=/; HttpOnly; SameSite=Lax; Secure');
  });
});
