import { extractCredentials } from '../../src/auth/credentials.js';
import { Unauthenticated } from '../../src/errors.js';

/** The refusal's code (and that it is a 401 refusal at all), or 'read' with what was read. */
function outcome(header: string | undefined): string {
  try {
    return `read ${JSON.stringify(extractCredentials(header))}`;
  } catch (error) {
    expect(error).toBeInstanceOf(Unauthenticated);
    return (error as Unauthenticated).code;
  }
}

const basic = (text: string) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;

describe('extractCredentials (step 3: the Authorization header)', () => {
  it('answers no_credentials for an absent or empty header', () => {
    expect(outcome(undefined)).toBe('no_credentials');
    expect(outcome('')).toBe('no_credentials');
  });

  it('reads a Bearer token with the scheme in any case, blanks around it and every b64token character', () => {
    const token = 'aZ09-._~+/xyz==';
    for (const header of [`Bearer ${token}`, `bearer ${token}`, `BEARER   ${token}`, `Bearer ${token}  `]) {
      expect(extractCredentials(header)).toEqual({ kind: 'bearer', token });
    }
  });

  it('refuses a Bearer header whose token is missing, split or holds other characters', () => {
    for (const header of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a=b', 'Bearer a,b', 'Bearer\ta', 'Bearer a"', 'Bearer ä']) {
      expect(outcome(header)).toBe('invalid_token');
    }
  });

  it('takes the scheme only at the start of the header and only as a whole word', () => {
    expect(outcome('xBearer abc')).toBe('unsupported_credentials');
    expect(outcome(' Bearer abc')).toBe('unsupported_credentials');
    expect(outcome('Bearerabc def')).toBe('unsupported_credentials');
    expect(outcome('Basicabc def')).toBe('unsupported_credentials');
    expect(outcome('Digest username="a"')).toBe('unsupported_credentials');
    expect(outcome('Negotiate abc')).toBe('unsupported_credentials');
  });

  it('accepts a header of exactly 16384 characters and refuses one longer', () => {
    const prefix = 'Bearer ';
    const longest = prefix + 'a'.repeat(16_384 - prefix.length);
    expect(extractCredentials(longest)).toEqual({ kind: 'bearer', token: 'a'.repeat(16_384 - prefix.length) });
    expect(outcome(`${longest}a`)).toBe('invalid_token');
  });

  it('reads Basic credentials: the user name up to the first colon, the password as the rest', () => {
    expect(extractCredentials(basic('alice:s3cret'))).toEqual({ kind: 'basic', username: 'alice', password: 's3cret' });
    expect(extractCredentials(basic('alice:a:b:'))).toEqual({ kind: 'basic', username: 'alice', password: 'a:b:' });
    expect(extractCredentials(basic('alice:'))).toEqual({ kind: 'basic', username: 'alice', password: '' });
    expect(extractCredentials(basic('jörg:pässword'))).toEqual({ kind: 'basic', username: 'jörg', password: 'pässword' });
    expect(extractCredentials(`bAsIc   ${Buffer.from('a:b').toString('base64')}  `)).toEqual({
      kind: 'basic',
      username: 'a',
      password: 'b',
    });
  });

  it('refuses Basic credentials without a user name, without a colon, or not in base64', () => {
    expect(outcome(basic(':password'))).toBe('invalid_token');
    expect(outcome(basic('alice'))).toBe('invalid_token');
    expect(outcome('Basic')).toBe('invalid_token');
    expect(outcome('Basic a-b')).toBe('invalid_token');
    expect(outcome(`x${basic('alice:pw')}`)).toBe('unsupported_credentials');
    expect(outcome(`${basic('alice:pw')} more`)).toBe('invalid_token');
  });

  it('names what was wrong in the refusal detail (never the credentials)', () => {
    const detail = (header: string) => {
      try {
        extractCredentials(header);
      } catch (error) {
        return (error as Unauthenticated).detail;
      }
      return 'no refusal';
    };
    expect(detail(`Bearer ${'a'.repeat(16_400)}`)).toBe('Authorization header too long');
    expect(detail(basic(':pw'))).toBe('malformed Basic credentials');
    expect(detail('Bearer a b')).toBe('malformed credentials');
    expect(detail('Digest x')).toBe('unsupported Authorization scheme');
  });
});
