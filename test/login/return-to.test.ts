import type { IncomingMessage } from 'node:http';
import { cookieSecure, publicBase, safeReturnTo } from '../../src/login/return-to.js';

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

describe('publicBase', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  it('prefers login.publicUrl', () => {
    expect(publicBase(req({ 'x-forwarded-host': 'evil.com' }), 'https://mlflow.example.com', [])?.href).toBe('https://mlflow.example.com/');
  });

  it('trusts X-Forwarded-Host only for loopback or allowed hosts', () => {
    expect(publicBase(req({ 'x-forwarded-host': '127.0.0.1:8080', 'x-forwarded-proto': 'http' }), undefined, [])?.href).toBe('http://127.0.0.1:8080/');
    expect(publicBase(req({ 'x-forwarded-host': 'mlflow.example.com', 'x-forwarded-proto': 'https' }), undefined, ['mlflow.example.com'])?.href).toBe('https://mlflow.example.com/');
    expect(publicBase(req({ 'x-forwarded-host': 'evil.com', 'x-forwarded-proto': 'https' }), undefined, ['mlflow.example.com'])).toBeUndefined();
    expect(publicBase(req({ host: 'evil.com' }), undefined, [])).toBeUndefined();
    expect(publicBase(req({ 'x-forwarded-host': 'a/b@evil.com' }), undefined, [])).toBeUndefined();
  });

  it('marks cookies Secure except on plain-http loopback', () => {
    expect(cookieSecure(new URL('http://127.0.0.1:8080/'))).toBe(false);
    expect(cookieSecure(new URL('http://mlflow.example.com/'))).toBe(true);
    expect(cookieSecure(new URL('https://127.0.0.1/'))).toBe(true);
  });
});
