import {
  canonicalIssuer,
  claimsOf,
  MemorySessionStore,
  sessionBytes,
  subjectKey,
  subjectOf,
  type SessionTokens,
} from '../../src/session/store.js';

// The memory store's bounds and the subject it caps by, at their edges: the defaults when an
// option is not given, the exact bytes a session is accounted for, and which token names the subject.

function jwt(claims: Record<string, unknown>, padding = 0): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ ...claims, ...(padding > 0 ? { pad: 'x'.repeat(padding) } : {}) })}.sig`;
}
const tokens = (idToken: string | undefined, accessToken = 'opaque-at', refreshToken: string | undefined = 'rt'): SessionTokens => ({
  accessToken,
  accessExpiresAtMs: 0,
  refreshToken,
  idToken,
});
const clock = () => 1_000_000;

describe('MemorySessionStore bounds, defaults and accounting', () => {
  it('caps a subject at 20 sessions when maxPerSubject is not given', () => {
    const store = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 100 }, clock);
    const made = Array.from({ length: 21 }, () => store.create(tokens(jwt({ iss: 'https://idp', sub: 'u' }))));
    expect(made.map((s) => store.get(s.id) !== undefined)).toEqual([false, ...Array<boolean>(20).fill(true)]);
    expect(store.usage).toMatchObject({ entries: 20, subjects: 1 });
  });

  it('bounds bytes at 8 KiB per entry when maxBytes is not given', () => {
    const store = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10 }, clock);
    // 320 + 3,680 + 2 = 4,002 bytes each: 20 fit in 81,920 bytes by size, but maxEntries keeps 10...
    for (let i = 0; i < 12; i++) store.create(tokens(undefined, 'a'.repeat(3_680)));
    expect(store.usage).toMatchObject({ entries: 10, bytes: 40_020 });
    // ...and 20,002 bytes each: only 4 fit in 10 x 8,192.
    const big = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10 }, clock);
    for (let i = 0; i < 10; i++) big.create(tokens(undefined, 'a'.repeat(19_680)));
    expect(big.usage).toMatchObject({ entries: 4, bytes: 80_008 });
  });

  it('accounts a session as 320 bytes plus the length of each token it holds', () => {
    const store = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10 }, clock);
    const full = store.create(tokens('i'.repeat(300), 'a'.repeat(1_000), 'r'.repeat(50)));
    expect(sessionBytes(full)).toBe(320 + 1_000 + 50 + 300);
    expect(store.usage.bytes).toBe(1_670);
    const bare = store.create({ accessToken: 'a'.repeat(1_000), accessExpiresAtMs: 0, refreshToken: undefined, idToken: undefined });
    expect(sessionBytes(bare)).toBe(1_320);
    expect(store.usage).toEqual({ entries: 2, bytes: 2_990, subjects: 0 });
    store.delete(full.id);
    expect(store.usage.bytes).toBe(1_320);
  });

  it('one session larger than maxBytes is not kept', () => {
    const store = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10, maxBytes: 70_000 }, clock);
    const small = store.create(tokens(undefined, 'a'.repeat(1_000)));
    const huge = store.create(tokens(undefined, 'a'.repeat(70_000)));
    expect(store.get(huge.id)).toBeUndefined();
    expect(store.get(small.id)).toBe(small);
  });

  it('a session too large for maxBytes leaves no trace: it does not count against its subject’s cap', () => {
    const store = new MemorySessionStore(
      { idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10, maxPerSubject: 2, maxBytes: 70_000 },
      clock,
    );
    const id = jwt({ iss: 'https://idp', sub: 'u' });
    const first = store.create(tokens(id));
    const huge = store.create(tokens(id, 'a'.repeat(70_000)));
    expect(store.get(huge.id)).toBeUndefined();
    expect(store.usage).toMatchObject({ entries: 1, subjects: 1 });
    const second = store.create(tokens(id));
    expect(store.get(first.id)).toBe(first); // two live sessions: within the cap of 2
    expect(store.get(second.id)).toBe(second);
    const alone = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10, maxBytes: 70_000 }, clock);
    alone.create(tokens(id, 'a'.repeat(70_000)));
    expect(alone.usage).toEqual({ entries: 0, bytes: 0, subjects: 0 });
  });

  it('a new session carries its times, issuer and IdP session', () => {
    let now = 5_000;
    const store = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10 }, () => now);
    const session = store.create(tokens(jwt({ iss: 'https://idp/realms/x/', sub: 'u', sid: 'kc-1' })));
    expect(session).toMatchObject({
      createdAtMs: 5_000,
      lastSeenMs: 5_000,
      absoluteExpiresAtMs: 305_000,
      issuer: 'https://idp/realms/x',
      sid: 'kc-1',
      subject: subjectKey('https://idp/realms/x', 'u'),
      renewing: undefined,
    });
    now += 1_000;
    expect(store.get(session.id)?.lastSeenMs).toBe(6_000);
    expect(store.delete(session.id)).toBe(session);
    expect(store.delete(session.id)).toBeUndefined();
  });

  it('idle and absolute timeouts end a session on the exact millisecond', () => {
    let now = 0;
    const store = new MemorySessionStore({ idleTimeoutMs: 1_000, absoluteTimeoutMs: 2_500, maxEntries: 10 }, () => now);
    const idle = store.create(tokens(undefined));
    now = 999;
    expect(store.get(idle.id)).toBe(idle);
    now = 1_998;
    expect(store.get(idle.id)).toBe(idle);
    now = 2_499;
    expect(store.get(idle.id)).toBe(idle);
    now = 2_500;
    expect(store.get(idle.id)).toBeUndefined();
    const other = store.create(tokens(undefined));
    now = 3_500;
    expect(store.get(other.id)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('close ends every session and empties the subject index', async () => {
    const store = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10 }, clock);
    const a = store.create(tokens(jwt({ iss: 'https://idp', sub: 'u' })));
    store.create(tokens(jwt({ iss: 'https://idp', sub: 'v' })));
    await store.close();
    expect(store.usage).toEqual({ entries: 0, bytes: 0, subjects: 0 });
    expect(store.get(a.id)).toBeUndefined();
  });

  it('refreshOnce puts the new tokens on the session and answers them', async () => {
    const store = new MemorySessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 10 }, clock);
    const session = store.create(tokens(undefined, 'at-1'));
    const seen: string[] = [];
    const renewed = await store.refreshOnce(session, async (current) => {
      seen.push(current.accessToken);
      return tokens(undefined, 'at-2');
    });
    expect(seen).toEqual(['at-1']);
    expect(renewed.accessToken).toBe('at-2');
    expect(store.get(session.id)?.tokens.accessToken).toBe('at-2');
  });
});

describe('the subject of a session', () => {
  it('is read from the ID token first, else from the access token', () => {
    const id = jwt({ iss: 'https://one', sub: 'from-id', sid: 's-id' });
    const access = jwt({ iss: 'https://two', sub: 'from-access', sid: 's-at' });
    expect(claimsOf(tokens(id, access))).toEqual({ iss: 'https://one', sub: 'from-id', sid: 's-id' });
    expect(claimsOf(tokens(undefined, access))).toEqual({ iss: 'https://two', sub: 'from-access', sid: 's-at' });
    expect(claimsOf(tokens(jwt({ iss: 'https://one' }), access))).toEqual({ iss: 'https://two', sub: 'from-access', sid: 's-at' });
    expect(claimsOf(tokens(jwt({ iss: 'https://one', sub: '' }), access)).sub).toBe('from-access');
    expect(claimsOf(tokens('a.!!not-json!!.c', access)).sub).toBe('from-access');
    expect(subjectOf(tokens(id, access))).toBe(subjectKey('https://one', 'from-id'));
  });

  it('none for opaque tokens, an empty or non-string sub; a non-string iss or empty sid is left out', () => {
    expect(claimsOf(tokens(undefined, 'opaque'))).toEqual({});
    expect(subjectOf(tokens(undefined, 'opaque'))).toBeUndefined();
    expect(claimsOf(tokens(jwt({ sub: 42 }), jwt({ sub: '' })))).toEqual({});
    expect(subjectOf(tokens(jwt({ sub: '' })))).toBeUndefined();
    expect(claimsOf(tokens(jwt({ iss: 7, sub: 'u', sid: '' })))).toEqual({ sub: 'u' });
    expect(claimsOf(tokens(jwt({ iss: 'https://i', sub: 'u', sid: 9 })))).toEqual({ iss: 'https://i', sub: 'u' });
    expect(subjectOf(tokens(jwt({ sub: 'u' })))).toBe(subjectKey(undefined, 'u'));
  });

  it('is a 22-character key of issuer and sub, one per issuer whatever its trailing slashes', () => {
    const key = subjectKey('https://idp/realms/x', 'u');
    expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(subjectKey('https://idp/realms/x///', 'u')).toBe(key);
    expect(subjectKey('https://idp/realms/y', 'u')).not.toBe(key);
    expect(subjectKey('https://idp/realms/x', 'v')).not.toBe(key);
    expect(subjectKey(undefined, 'u')).not.toBe(key);
    // The pair, not the concatenation: issuer "a" + sub "bc" is not issuer "ab" + sub "c".
    expect(subjectKey('a', 'bc')).not.toBe(subjectKey('ab', 'c'));
  });

  it('canonicalIssuer drops trailing slashes only', () => {
    expect(canonicalIssuer('https://idp/realms/x//')).toBe('https://idp/realms/x');
    expect(canonicalIssuer('https://idp/realms/x/')).toBe('https://idp/realms/x');
    expect(canonicalIssuer('https://idp/realms/x')).toBe('https://idp/realms/x');
    expect(canonicalIssuer(undefined)).toBeUndefined();
  });
});
