import type { IncomingHttpHeaders } from 'node:http';
import { crossOriginRefusal, isUnsafeMethod, provenance } from '../../src/login/origin.js';

const BASE = new URL('https://mlflow.example.com/');

describe('provenance (sign-out: Fetch Metadata, else Origin, else Referer)', () => {
  it.each<[IncomingHttpHeaders, string]>([
    [{ 'sec-fetch-site': 'same-origin' }, 'same-origin'],
    [{ 'sec-fetch-site': 'none' }, 'same-origin'],
    [{ 'sec-fetch-site': 'cross-site', origin: 'https://mlflow.example.com' }, 'cross-site'], // the browser's word wins
    [{ 'sec-fetch-site': 'same-site' }, 'same-site'],
    [{ origin: 'https://mlflow.example.com' }, 'same-origin'],
    [{ origin: 'https://MLFLOW.example.com:443' }, 'same-origin'],
    [{ origin: 'https://evil.example' }, 'cross-origin'],
    [{ origin: 'null' }, 'cross-origin'],
    [{ origin: 'not a url' }, 'cross-origin'],
    [{ referer: 'https://mlflow.example.com/#/x' }, 'same-origin'],
    [{ referer: 'https://evil.example/https://mlflow.example.com/' }, 'cross-origin'],
    [{ 'sec-fetch-site': 'bogus', referer: 'https://mlflow.example.com/' }, 'same-origin'],
    [{}, 'unknown'],
  ])('%j → %s', (headers, expected) => {
    expect(provenance(headers, BASE)).toBe(expected);
  });
});

describe('crossOriginRefusal (state-changing requests with the session cookie)', () => {
  it.each<IncomingHttpHeaders>([
    { origin: 'https://mlflow.example.com' },
    { origin: 'https://mlflow.example.com', 'sec-fetch-site': 'same-origin' },
    { referer: 'https://mlflow.example.com/x' },
  ])('lets %j through', (headers) => {
    expect(crossOriginRefusal(headers, BASE)).toBeUndefined();
  });

  it.each<[IncomingHttpHeaders, RegExp]>([
    [{}, /neither Origin nor Referer/],
    [{ 'sec-fetch-site': 'same-origin' }, /neither Origin nor Referer/], // Origin is required, as in Django
    [{ 'sec-fetch-site': 'cross-site', origin: 'https://mlflow.example.com' }, /Sec-Fetch-Site: cross-site/],
    [{ 'sec-fetch-site': 'same-site', origin: 'https://mlflow.example.com' }, /Sec-Fetch-Site: same-site/],
    [{ origin: 'https://evil.example' }, /Origin is not https:\/\/mlflow.example.com/],
    [{ origin: 'http://mlflow.example.com' }, /Origin is not/],
    [{ origin: 'https://app.mlflow.example.com' }, /Origin is not/],
    [{ origin: 'null', referer: 'https://mlflow.example.com/' }, /Origin is not/],
    [{ referer: 'https://evil.example/' }, /Referer is not on/],
  ])('refuses %j', (headers, reason) => {
    expect(crossOriginRefusal(headers, BASE)).toMatch(reason);
  });

  it('refuses when the site origin is unknown', () => {
    expect(crossOriginRefusal({ origin: 'https://mlflow.example.com' }, undefined)).toMatch(/origin is unknown/);
  });

  it('treats every method but GET, HEAD, OPTIONS and TRACE as state-changing', () => {
    expect(['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND', 'post'].every(isUnsafeMethod)).toBe(true);
    expect(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'get'].some(isUnsafeMethod)).toBe(false);
  });
});
