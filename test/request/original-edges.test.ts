import type { IncomingHttpHeaders } from 'node:http';
import { BadOriginalRequest, ConflictingOriginalRequest, RejectedUri } from '../../src/errors.js';
import { type ContractSettings, readOriginal } from '../../src/request/original.js';
import { TrustedProxies } from '../../src/request/trusted-proxies.js';

// The edges of readOriginal (test/request/original.test.ts has both contracts): a header that is empty
// or not a single value counts as absent, each contract needs its method, an X-Original-URL needs an
// http(s) scheme at its very start (in any case), the reason given for each refusal names its rule,
// and the client is the last X-Forwarded-For entry however many there are. Found unguarded by the
// mutation queue of round 5 (docs/mutation.md).
const CONTROLLER = '10.244.1.7';
const enabled: ContractSettings = { enabled: true, proxies: new TrustedProxies(['10.244.0.0/16']) };

/** The error readOriginal throws for `headers` from `peer` (fails the test when it returns). */
function thrownFrom(peer: string | undefined, headers: IncomingHttpHeaders): unknown {
  try {
    readOriginal(headers, peer, enabled);
  } catch (error) {
    return error;
  }
  throw new Error(`accepted ${JSON.stringify(headers)}`);
}
const thrown = (headers: IncomingHttpHeaders): unknown => thrownFrom(CONTROLLER, headers);

describe('readOriginal: a header is one non-empty value or absent', () => {
  it('takes an empty X-Original-Method or X-Original-URI as missing (400), not as a request for ""', () => {
    expect(thrown({ 'x-original-method': 'GET', 'x-original-uri': '' })).toBeInstanceOf(BadOriginalRequest);
    expect(thrown({ 'x-original-method': '', 'x-original-uri': '/x' })).toBeInstanceOf(BadOriginalRequest);
  });

  it('ignores an empty X-Original-URL beside X-Original-URI, and an empty X-Original-Remote-Addr', () => {
    expect(
      readOriginal(
        { 'x-original-method': 'GET', 'x-original-uri': '/x', 'x-original-url': '', 'x-original-remote-addr': '' },
        CONTROLLER,
        enabled,
      ),
    ).toEqual({
      contract: 'nginx',
      method: 'GET',
      target: '/x',
      clientAddress: undefined,
      origin: undefined,
    });
  });

  it('takes a header given as several values as missing', () => {
    expect(thrown({ 'x-original-method': ['GET', 'DELETE'], 'x-original-uri': '/x' } as IncomingHttpHeaders)).toBeInstanceOf(
      BadOriginalRequest,
    );
    expect(thrown({ 'x-original-method': 'GET', 'x-original-uri': ['/x', '/admin'] } as IncomingHttpHeaders)).toBeInstanceOf(
      BadOriginalRequest,
    );
  });
});

describe('readOriginal: each contract needs its method', () => {
  it('refuses a trusted X-Original-URL without X-Original-Method, naming what is missing', () => {
    const error = thrown({ 'x-original-url': 'https://m.example.com/x', 'x-real-ip': '203.0.113.9' });
    expect(error).toBeInstanceOf(BadOriginalRequest);
    expect((error as BadOriginalRequest).detail).toBe('X-Original-Method and X-Original-URI are required (see nginx/snippets)');
  });

  it('refuses X-Original-URI without X-Original-Method', () => {
    const error = thrownFrom('127.0.0.1', { 'x-original-uri': '/x' });
    expect(error).toBeInstanceOf(BadOriginalRequest);
    expect((error as BadOriginalRequest).detail).toBe('X-Original-Method and X-Original-URI are required (see nginx/snippets)');
  });

  it('names the untrusted sender when it is the reason X-Original-URL was not read', () => {
    const error = thrownFrom('192.0.2.1', { 'x-original-method': 'GET', 'x-original-url': 'https://m.example.com/x' });
    expect((error as BadOriginalRequest).detail).toBe(
      'X-Original-URL is read only with ingress.enabled and from ingress.trustedProxies (sender 192.0.2.1)',
    );
    const unknown = thrownFrom(undefined, { 'x-original-method': 'GET', 'x-original-url': 'https://m.example.com/x' });
    expect((unknown as BadOriginalRequest).detail).toContain('(sender unknown)');
  });
});

describe('readOriginal: the scheme of X-Original-URL', () => {
  it('takes HTTP and HTTPS in any case, as URLs are read', () => {
    const headers = { 'x-original-method': 'GET', 'x-original-url': 'HTTPS://m.example.com/x?y=1', 'x-real-ip': '203.0.113.9' };
    expect(readOriginal(headers, CONTROLLER, enabled)).toMatchObject({
      contract: 'ingress-nginx',
      target: '/x?y=1',
      origin: 'https://m.example.com',
    });
    expect(readOriginal({ ...headers, 'x-original-uri': '/x?y=1' }, CONTROLLER, enabled).target).toBe('/x?y=1');
  });

  it.each(['xhttps://m.example.com/x', 'web+http://m.example.com/x', 'a:http://m.example.com/x'])(
    'refuses %s: http(s) must be the scheme, not the end of another one',
    (url) => {
      expect(thrown({ 'x-original-method': 'GET', 'x-original-url': url })).toBeInstanceOf(RejectedUri);
      // Nor is its tail taken as the target X-Original-URI must agree with.
      expect(thrown({ 'x-original-method': 'GET', 'x-original-url': url, 'x-original-uri': '/x' })).toBeInstanceOf(
        ConflictingOriginalRequest,
      );
    },
  );
});

describe('readOriginal: why an X-Original-URL is refused (the log line tells the operator)', () => {
  it.each([
    ['https://m.example.com/a b', 'X-Original-URL is not an absolute http(s) URL'],
    ['https://', 'X-Original-URL is not an absolute http(s) URL'],
    ['https://user@m.example.com/x', 'X-Original-URL authority is not host[:port]'],
    ['https://m.example.com:/x', 'X-Original-URL authority is not host[:port]'],
    ['https://m.example.com?x=1', 'X-Original-URL has no path'],
    ['https://m.example.com/x#y', 'fragment in X-Original-URL'],
  ])('%s: %s', (url, detail) => {
    const error = thrown({ 'x-original-method': 'GET', 'x-original-url': url });
    expect(error).toBeInstanceOf(RejectedUri);
    expect((error as RejectedUri).detail).toBe(detail);
  });
});

describe('readOriginal: the client address under ingress-nginx', () => {
  it('takes the last X-Forwarded-For entry of one, two or three', () => {
    const base = { 'x-original-method': 'GET', 'x-original-url': 'https://m.example.com/x' };
    for (const [chain, client] of [
      ['198.51.100.7', '198.51.100.7'],
      ['1.2.3.4, 198.51.100.7', '198.51.100.7'],
      ['1.2.3.4, 5.6.7.8, 198.51.100.7', '198.51.100.7'],
    ] as const)
      expect(readOriginal({ ...base, 'x-forwarded-for': chain }, CONTROLLER, enabled).clientAddress).toBe(client);
  });

  it('takes X-Real-IP with blanks around it', () => {
    const headers = { 'x-original-method': 'GET', 'x-original-url': 'https://m.example.com/x', 'x-real-ip': ' 203.0.113.9 ' };
    expect(readOriginal(headers, CONTROLLER, enabled).clientAddress).toBe('203.0.113.9');
  });
});
