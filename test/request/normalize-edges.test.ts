import { RejectedUri } from '../../src/errors.js';
import { decodeToFixedPoint, normalizeMethod, normalizeUri, percentDecode } from '../../src/request/normalize.js';

// The edges of each rule of normalizeUri (test/request/normalize.test.ts has the rules themselves):
// the exact length limit, the first and last byte of each character class, the round limit of
// repeated decoding. Mutation testing (docs/mutation.md) showed which edges nothing pinned down.
const path = (raw: string): string => normalizeUri(raw, 8192).path;
const rejected = (raw: string, maxLength = 8192): void => {
  expect(() => normalizeUri(raw, maxLength)).toThrow(RejectedUri);
};

/** `text` percent-encoded `times` times over (each round encodes the `%` of the last). */
const encodedTimes = (text: string, times: number): string => {
  let out = text;
  for (let i = 0; i < times; i++) out = out.replaceAll('%', '%25');
  return out;
};

describe('normalizeUri length limit', () => {
  it('accepts a target of exactly the limit and refuses one byte more', () => {
    expect(normalizeUri(`/${'a'.repeat(255)}`, 256).path).toHaveLength(256);
    rejected(`/${'a'.repeat(256)}`, 256);
  });
});

describe('normalizeUri character classes', () => {
  it('accepts the visible ASCII edges raw: ! and ~', () => {
    expect(path('/a!b~c')).toBe('/a!b~c');
  });

  it.each([
    ['raw DEL', '/a\u007fb'],
    ['raw tab', '/a\tb'],
    ['raw unit separator', '/a\u001fb'],
  ])('refuses %s in the target', (_name, raw) => rejected(raw));

  it.each([
    ['%1F, the last C0 control', '/a%1Fb'],
    ['%7F, DEL', '/a%7Fb'],
    ['%01', '/a%01b'],
  ])('refuses the decoded control %s', (_name, raw) => rejected(raw));

  it('accepts decoded characters just outside the forbidden ones: space (%20), ~ (%7E), [ and ] (%5B %5D)', () => {
    expect(path('/a%20b/%7E/%5B%5D')).toBe('/a b/~/[]');
  });

  it('accepts a segment holding a literal % that settles at once (%25 followed by no hex pair)', () => {
    expect(path('/files/100%25')).toBe('/files/100%');
  });
});

describe('normalizeUri absolute form', () => {
  it('takes the scheme case-insensitively, as HTTP does', () => {
    expect(path('HTTP://mlflow.example/api/2.0/mlflow/runs/get')).toBe('/api/2.0/mlflow/runs/get');
    expect(path('Https://mlflow.example/x')).toBe('/x');
  });

  it('refuses an absolute form whose remainder is not a path (a query or fragment straight after the authority)', () => {
    rejected('http://mlflow.example?x=1');
    rejected('http://mlflow.example#x');
  });

  it('refuses other schemes and a scheme without //', () => {
    rejected('ftp://mlflow.example/x');
    rejected('http:/x');
    rejected('httpx://mlflow.example/x');
  });

  it('drops the authority only: a path that looks like one stays a path', () => {
    expect(path('http://a.example//b.example/x')).toBe('/b.example/x');
  });
});

describe('repeated decoding round limit', () => {
  it('settles %41 whose % is encoded 8 more times (nine decodings, a tenth that changes nothing) but not 9', () => {
    expect(decodeToFixedPoint(encodedTimes('%41', 8))).toBe('A');
    expect(decodeToFixedPoint(encodedTimes('%41', 9))).toBeUndefined();
  });

  it('accepts a path segment whose later decodings settle on plain text', () => {
    expect(path(`/artifacts/${encodedTimes('%41', 3)}`)).toBe(`/artifacts/${encodedTimes('%41', 2)}`);
  });

  it('refuses a segment that settles within the limit on a dot segment, or does not settle', () => {
    rejected(`/artifacts/${encodedTimes('%2e%2e', 8)}/x`);
    rejected(`/artifacts/${encodedTimes('%41', 10)}`);
  });
});

describe('percentDecode', () => {
  it('decodes well-formed escapes, leaves a lone % and bad hex, and reads the bytes as UTF-8', () => {
    expect(percentDecode('a%41b')).toBe('aAb');
    expect(percentDecode('100%')).toBe('100%');
    expect(percentDecode('%zz%4')).toBe('%zz%4');
    expect(percentDecode('%C3%A9%41')).toBe('éA');
    expect(percentDecode('x%C3')).toBeUndefined();
    expect(percentDecode('plain')).toBe('plain');
  });
});

describe('normalizeMethod length', () => {
  it('takes a 16-letter token and refuses 17', () => {
    expect(normalizeMethod('a'.repeat(16))).toBe('A'.repeat(16));
    expect(normalizeMethod('a'.repeat(17))).toBeUndefined();
    expect(normalizeMethod('PROPFIND')).toBe('PROPFIND');
    expect(normalizeMethod('GET1')).toBeUndefined();
    expect(normalizeMethod(' GET')).toBeUndefined();
  });
});

// The reason of each refusal is what the log line tells an operator (the caller gets the same 403
// for all): each rule names its own.
describe('normalizeUri refusal reasons', () => {
  const reason = (raw: string, maxLength = 8192): string | undefined => {
    try {
      normalizeUri(raw, maxLength);
    } catch (error) {
      expect(error).toBeInstanceOf(RejectedUri);
      return (error as RejectedUri).detail;
    }
    throw new Error(`${raw} was accepted`);
  };

  it.each([
    ['', 'empty URI'],
    ['/a b', 'non-ASCII or space in URI'],
    ['api/x', 'URI is not origin-form'],
    ['http://mlflow.example?x', 'URI is not origin-form'],
    ['/a#b', 'fragment in request URI'],
    ['/a/../b', 'dot segment in path'],
    ['/a/%zz', 'malformed percent-encoding'],
    ['/a/%ff', 'percent-encoding is not UTF-8'],
    ['/a%2Fb', 'encoded slash in path'],
    ['/a%00', 'control character or backslash in path'],
    [`/a/%${'25'.repeat(12)}41`, 'path does not settle under repeated percent-decoding'],
    ['/a%252Fb', 'multiply percent-encoded separator, control character or dot segment'],
  ])('%j: %s', (raw, detail) => {
    expect(reason(raw)).toBe(detail);
  });

  it('names the limit of an overlong URI', () => {
    expect(reason(`/${'a'.repeat(20)}`, 16)).toBe('URI longer than 16');
  });
});

describe('normalizeUri query and absolute form anchoring', () => {
  it('gives an empty query when there is no ?', () => {
    expect(normalizeUri('/x/y', 8192)).toEqual({ path: '/x/y', query: '' });
    expect(normalizeUri('/x/y?', 8192)).toEqual({ path: '/x/y', query: '' });
  });

  it('takes a scheme only at the very start of the target', () => {
    rejected('ahttp:///c');
    rejected('xhttp://mlflow.example/x');
  });
});

// Round 5 (docs/mutation.md): the shortcut for plain paths (PLAIN_PATH) must take only segments without
// `/`, `%`, `\` and `#`; a path made only of those characters goes through the full checks.
describe('normalizeUri shortcut for plain paths', () => {
  it('still merges empty segments of a path made only of slashes', () => {
    expect(path('//')).toBe('/');
    expect(path('///')).toBe('/');
  });

  it('still refuses a raw backslash or a lone % as a whole segment', () => {
    rejected('/\\');
    rejected('/%');
    rejected('/%%/%');
    rejected('/\\/\\\\');
  });
});
