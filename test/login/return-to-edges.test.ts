/**
 * Return targets and the site's base URL at the edges the mutation run of src/login/return-to.ts found
 * unguarded (docs/mutation.md): a non-http(s) scheme naming this very site, a password without a user
 * name, a foreign host when no other host is allowed, the length bound, scheme-relative targets naming
 * this site, look-alike loopback hosts, the publicUrl's trailing slashes, an empty X-Forwarded-Host, and
 * the ingress base (siteBase).
 */
import type { IncomingMessage } from 'node:http';
import { cookieSecure, isSameOriginLocation, publicBase, safeReturnTo, siteBase } from '../../src/login/return-to.js';

const BASE = new URL('https://mlflow.example.com/');
const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('safeReturnTo edges', () => {
  it.each([
    'javascript://mlflow.example.com/%0Aalert(1)', // the site's own host under another scheme
    'ftp://mlflow.example.com/x',
    'http://:secret@mlflow.example.com/', // a password without a user name
    '//mlflow.example.com/x', // scheme-relative, even to this site
  ])('refuses %s', (rd) => {
    expect(safeReturnTo(rd, BASE, [])).toBe('/');
  });

  it('refuses another host when no other host is allowed, and accepts any of several allowed hosts', () => {
    expect(safeReturnTo('https://evil.example/', BASE, [])).toBe('/');
    expect(safeReturnTo('https://b.example/x', BASE, ['a.example', 'B.example'])).toBe('https://b.example/x');
    expect(safeReturnTo('https://c.example/x', BASE, ['a.example', 'b.example'])).toBe('/');
  });

  it('keeps plain http and https targets on this site', () => {
    expect(safeReturnTo('http://mlflow.example.com/x', BASE, [])).toBe('http://mlflow.example.com/x');
    expect(safeReturnTo('https://mlflow.example.com/x', BASE, [])).toBe('https://mlflow.example.com/x');
  });

  it('keeps a target of 4096 characters and refuses a longer one', () => {
    const exact = `/${'a'.repeat(4095)}`;
    expect(safeReturnTo(exact, BASE, [])).toBe(exact);
    expect(safeReturnTo(`${exact}a`, BASE, [])).toBe('/');
  });
});

describe('isSameOriginLocation edges', () => {
  it('reads a Location as a browser does: leading blanks ignored, inner blanks kept', () => {
    expect(isSameOriginLocation(' /x', BASE)).toBe(true);
    expect(isSameOriginLocation('  /x', BASE)).toBe(true);
    expect(isSameOriginLocation(' //evil.example', BASE)).toBe(false);
    expect(isSameOriginLocation('/ /evil.example', BASE)).toBe(true); // the path /%20/evil.example of this site
    // A tab a browser drops makes it scheme-relative: refused even when it names this site.
    expect(isSameOriginLocation('/\t/mlflow.example.com/x', BASE)).toBe(false);
  });
});

describe('publicBase edges', () => {
  it('trusts only the loopback hosts themselves, with or without a port', () => {
    expect(publicBase(request({ host: 'localhost' }), undefined, [])?.href).toBe('http://localhost/');
    expect(publicBase(request({ host: '127.0.0.1:8080' }), undefined, [])?.href).toBe('http://127.0.0.1:8080/');
    expect(cookieSecure(new URL('http://localhost/'))).toBe(false);
    for (const host of ['evil.localhost', 'evil-127.0.0.1', 'localhost.evil.example', 'localhost:8080.evil.example'])
      expect(publicBase(request({ host }), undefined, [])).toBeUndefined();
  });

  it('takes publicUrl with any trailing slashes as the base, its path kept', () => {
    for (const publicUrl of ['https://ml.example/mlflow', 'https://ml.example/mlflow/', 'https://ml.example/mlflow//'])
      expect(publicBase(request({ host: 'ignored.example' }), publicUrl, [])?.href).toBe('https://ml.example/mlflow/');
  });

  it('falls back to Host when X-Forwarded-Host is empty', () => {
    expect(publicBase(request({ 'x-forwarded-host': '', host: 'localhost:8080' }), undefined, [])?.href).toBe('http://localhost:8080/');
  });
});

describe('siteBase (the origin an ingress reported)', () => {
  it('is that origin for an allowed host, publicUrl when set, else nothing', () => {
    const origin = new URL('https://mlflow.example.com/ajax-api/2.0/x?y=1');
    expect(siteBase(origin, undefined, ['mlflow.example.com'])?.href).toBe('https://mlflow.example.com/');
    expect(siteBase(origin, undefined, ['other.example'])).toBeUndefined();
    expect(siteBase(origin, 'https://ml.example/mlflow//', [])?.href).toBe('https://ml.example/mlflow/');
  });
});

// Round 5 (docs/mutation.md): host names compare without regard to case, on either side; an ingress
// origin keeps its scheme; an absolute target is sent as the URL parser wrote it.
describe('host names in any case', () => {
  it('accepts an allowed host whatever the case of the request header or of the configured name', () => {
    expect(publicBase(request({ 'x-forwarded-host': 'MLflow.Example.COM' }), undefined, ['mlflow.example.com'])?.href).toBe(
      'http://mlflow.example.com/',
    );
    expect(publicBase(request({ host: 'mlflow.example.com' }), undefined, ['MLflow.Example.com'])?.href).toBe('http://mlflow.example.com/');
    expect(publicBase(request({ host: 'LOCALHOST:8080' }), undefined, [])?.href).toBe('http://localhost:8080/');
  });

  it('has no base without any host header, whatever the allowed names', () => {
    expect(publicBase(request({}), undefined, ['undefined'])).toBeUndefined();
  });

  it('sends an absolute target as parsed: host in lower case, dot segments resolved', () => {
    expect(safeReturnTo('https://MLflow.Example.com/a/../b', BASE, [])).toBe('https://mlflow.example.com/b');
  });
});

describe('siteBase keeps the scheme of the origin', () => {
  it('is http for an http origin', () => {
    expect(siteBase(new URL('http://mlflow.example.com:8080/x'), undefined, ['mlflow.example.com:8080'])?.href).toBe(
      'http://mlflow.example.com:8080/',
    );
  });
});
