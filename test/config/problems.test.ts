import { configSchema } from '../../src/config/schema.js';
import { describeIssue, isSecretName, shownValue } from '../../src/config/problems.js';

describe('isSecretName', () => {
  it('finds a secret word in any segment of a path or variable name', () => {
    for (const name of [
      ['client', 'secret'],
      ['basic', 'clientSecret'],
      ['session', 'secretFile'],
      ['x', 'apiKey'],
      ['y', 'password'],
      ['refresh_token'],
      ['cookie'],
    ]) {
      expect(isSecretName(name)).toBe(true);
    }
    expect(isSecretName('AUTHZ_CLIENT_SECRET')).toBe(true);
    expect(isSecretName('AUTHZ_BASIC_CLIENT_SECRET')).toBe(true);
    for (const name of [
      ['server', 'port'],
      ['routes', 'keycloakScopes'],
      ['issuer', 'jwksCooldownMs'],
      ['log', 'level'],
    ]) {
      expect(isSecretName(name)).toBe(false);
    }
  });
});

describe('shownValue', () => {
  it('shows short scalars, never mappings, lists or anything under a secret name', () => {
    expect(shownValue(['server', 'port'], 'eighty')).toBe('"eighty"');
    expect(shownValue(['server', 'port'], -1)).toBe('-1');
    expect(shownValue(['client'], { id: 'a', secret: 'SUPER-SECRET-VALUE-123' })).toBeUndefined();
    expect(shownValue(['issuer', 'audiences'], ['SUPER-SECRET-VALUE-123'])).toBeUndefined();
    expect(shownValue(['client', 'secret'], 12345)).toBeUndefined();
    expect(shownValue(['session', 'secret'], 'short')).toBeUndefined();
    expect(shownValue(['login', 'scope'], 'x'.repeat(500))).toHaveLength(120);
  });
});

describe('describeIssue', () => {
  const issues = (input: unknown) => {
    const parsed = configSchema.safeParse(input, { reportInput: true });
    if (parsed.success) throw new Error('expected problems');
    return parsed.error.issues.flatMap((issue) => describeIssue(issue, configSchema));
  };

  it('names an unknown key, suggests the near one, and never shows the mapping around it', () => {
    const found = issues({
      issuer: { url: 'https://idp.example' },
      client: { id: 'c', secret: 'SUPER-SECRET-VALUE-123', secertFile: '/run/x' },
    });
    expect(found).toEqual(['client.secertFile: unknown option (did you mean "secretFile"?)']);
  });

  it('says where a misplaced option belongs', () => {
    const found = issues({ issuer: { url: 'https://idp.example' }, client: { id: 'c' }, policy: { rules: {} } });
    expect(found).toEqual(['policy: unknown option here; it is an option of issuer, issuers.N']);
  });

  it('does not echo a key that looks like a value (a secret pasted as a key)', () => {
    const found = issues({
      issuer: { url: 'https://idp.example' },
      client: { id: 'c', 'SUPER-SECRET-VALUE-123': null, sUPERsecretVALUEabcdefghij12: null },
    });
    expect(found).toHaveLength(2);
    expect(found.join('\n')).not.toMatch(/SUPER|abcdefghij/);
    expect(found[0]).toMatch(/^client: a key that is not an option name \(not shown/);
  });
});

describe('withoutUserinfo', () => {
  it('hides the credentials of a URL, in problems too', () => {
    expect(shownValue(['issuer', 'url'], 'http://admin:SUPER-SECRET@idp.example/realms/x')).toBe('"http://***@idp.example/realms/x"');
    expect(shownValue(['issuer', 'url'], 'https://idp.example/a@b')).toBe('"https://idp.example/a@b"');
  });
});
