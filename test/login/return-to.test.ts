import type { IncomingMessage } from 'node:http';
import { cookieSecure, isSameOriginLocation, publicBase, safeReturnTo } from '../../src/login/return-to.js';

const BASE = new URL('https://mlflow.example.com/');

describe('safeReturnTo (no open redirect)', () => {
  it.each([
    ['/', '/'],
    ['/#/experiments/1', '/#/experiments/1'],
    ['/ajax?a=1&b=2', '/ajax?a=1&b=2'],
    ['/a/../b', '/b'],
    ['https://mlflow.example.com/x?y=1', 'https://mlflow.example.com/x?y=1'],
    ['https://other.example.com/ok', 'https://other.example.com/ok'], // allowed host
  ])('keeps %s', (rd, expected) => {
    expect(safeReturnTo(rd, BASE, ['other.example.com'])).toBe(expected);
  });

  it.each([
    '//evil.com',
    '//evil.com/x',
    '/\\evil.com',
    '\\\\evil.com',
    '/\t/evil.com',
    'https://evil.com',
    'https://evil.com@mlflow.example.com/',
    'https://mlflow.example.com@evil.com/',
    'https://user:pw@mlflow.example.com/',
    'http://mlflow.example.com.evil.com/',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'evil.com',
    '',
    undefined,
  ])('replaces %p with /', (rd) => {
    expect(safeReturnTo(rd as string | undefined, BASE, ['other.example.com'])).toBe('/');
  });
});

describe('safeReturnTo checks the Location it will send, after dot segments are resolved (issue 10, A4)', () => {
  // Each of these is a path on this site as written, but resolves to "//host..." (or "/\\host"),
  // which a browser reads as another host.
  it.each([
    '/.//evil.example/steal', // ?rd=%2F.%2F%2Fevil.example%2Fsteal, decoded by the query parser
    '/%2e//evil.example/x',
    '/%2E//evil.example/x',
    '/a/..//evil.example/x',
    '/a/%2e%2e//evil.example/x',
    '/.//',
    '/..//',
    '/..//evil.example',
    '/././/evil.example',
    '/a/b/../..//evil.example',
  ])('replaces %p with /', (rd) => {
    const location = safeReturnTo(rd, BASE, []);
    expect(location).toBe('/');
  });

  it.each([
    ['/%09/evil.example', '/%09/evil.example'], // an encoded tab stays encoded: a path on this site
    ['/%5C/evil.example', '/%5C/evil.example'], // an encoded backslash likewise
    ['/%5c%5cevil.example', '/%5c%5cevil.example'],
    ['/a/./b', '/a/b'],
    ['/.well-known/x', '/.well-known/x'],
    ['/.%2f/evil.example', '/.%2f/evil.example'], // not a dot segment to a browser either
  ])('keeps %p on the site as %p', (rd, expected) => {
    const location = safeReturnTo(rd, BASE, []);
    expect(location).toBe(expected);
    expect(new URL(location, BASE).origin).toBe(BASE.origin);
  });

  it.each(['/\t/evil.example', '/\n/evil.example', '/\\evil.example', '/\\/evil.example', '\t//evil.example', ' //evil.example'])(
    'replaces the raw control or backslash form %p with /',
    (rd) => {
      expect(safeReturnTo(rd, BASE, [])).toBe('/');
    },
  );
});

describe('isSameOriginLocation (the final check on the Location value)', () => {
  it.each(['/', '/x?y=1#z', '/%2F%2Fevil.example', '/%09/evil.example', '/a//b'])('accepts %p', (location) => {
    expect(isSameOriginLocation(location, BASE)).toBe(true);
  });

  it.each([
    '//evil.example',
    '/\\evil.example',
    '\\/evil.example',
    '/\t/evil.example',
    '\t//evil.example',
    ' //evil.example',
    '/\r\n/evil.example',
    'https://evil.example/',
    'evil.example',
    'javascript:alert(1)',
    '',
  ])('refuses %p', (location) => {
    expect(isSameOriginLocation(location, BASE)).toBe(false);
  });
});

describe('publicBase', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  it('prefers login.publicUrl', () => {
    expect(publicBase(req({ 'x-forwarded-host': 'evil.com' }), 'https://mlflow.example.com', [])?.href).toBe('https://mlflow.example.com/');
  });

  it('trusts X-Forwarded-Host only for loopback or allowed hosts', () => {
    expect(publicBase(req({ 'x-forwarded-host': '127.0.0.1:8080', 'x-forwarded-proto': 'http' }), undefined, [])?.href).toBe(
      'http://127.0.0.1:8080/',
    );
    expect(
      publicBase(req({ 'x-forwarded-host': 'mlflow.example.com', 'x-forwarded-proto': 'https' }), undefined, ['mlflow.example.com'])?.href,
    ).toBe('https://mlflow.example.com/');
    expect(
      publicBase(req({ 'x-forwarded-host': 'evil.com', 'x-forwarded-proto': 'https' }), undefined, ['mlflow.example.com']),
    ).toBeUndefined();
    expect(publicBase(req({ host: 'evil.com' }), undefined, [])).toBeUndefined();
    expect(publicBase(req({ 'x-forwarded-host': 'a/b@evil.com' }), undefined, [])).toBeUndefined();
  });

  it('marks cookies Secure except on plain-http loopback', () => {
    expect(cookieSecure(new URL('http://127.0.0.1:8080/'))).toBe(false);
    expect(cookieSecure(new URL('http://mlflow.example.com/'))).toBe(true);
    expect(cookieSecure(new URL('https://127.0.0.1/'))).toBe(true);
  });
});
