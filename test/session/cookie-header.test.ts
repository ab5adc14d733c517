import { readCookie, serializeCookie } from '../../src/session/cookie-header.js';

describe('cookies', () => {
  it('reads one cookie out of a header', () => {
    expect(readCookie('a=1; nginx_authz_session=v.a.l; b=2', 'nginx_authz_session')).toBe('v.a.l');
    expect(readCookie('nginx_authz_session_x=1', 'nginx_authz_session')).toBeUndefined();
    expect(readCookie('x=1;nginx_authz_session=first; nginx_authz_session=second', 'nginx_authz_session')).toBe('first');
    expect(readCookie('nginx_authz_session=', 'nginx_authz_session')).toBeUndefined();
    expect(readCookie(undefined, 'a')).toBeUndefined();
  });

  it('writes HttpOnly, SameSite=Lax, Secure unless told otherwise', () => {
    expect(serializeCookie('s', 'v', { secure: true, path: '/', maxAgeSeconds: 60 })).toBe(
      's=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60',
    );
    expect(serializeCookie('s', '', { secure: false, path: '/oauth2/', maxAgeSeconds: 0 })).toBe(
      's=; Path=/oauth2/; HttpOnly; SameSite=Lax; Max-Age=0',
    );
  });
});
