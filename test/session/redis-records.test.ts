import type { RedisConnection } from '../../src/cluster/redis.js';
import { hashId, px, SessionKeys, SessionRecords } from '../../src/session/redis-records.js';
import type { Session } from '../../src/session/store.js';

// Only `key()` of the connection names anything: the prefix.
const keys = new SessionKeys({ key: (name: string) => `app:${name}` } as unknown as RedisConnection);

function session(overrides: Partial<Session> = {}): Session {
  return {
    id: 'the-session-id',
    createdAtMs: 1_000,
    absoluteExpiresAtMs: 9_000,
    lastSeenMs: 2_000,
    tokens: { accessToken: 'ACCESS-TOKEN-VALUE', accessExpiresAtMs: 5_000, refreshToken: 'REFRESH-TOKEN-VALUE', idToken: undefined },
    renewing: undefined,
    subject: 'iss|alice',
    issuer: 'https://idp.test/realms/r',
    sid: 'sid-1',
    ...overrides,
  };
}

describe('the Redis layout of sessions', () => {
  it('names a session by a hash of its id, never the id', () => {
    expect(hashId('the-session-id')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(hashId('the-session-id')).toBe(hashId('the-session-id'));
    expect(keys.session(hashId('the-session-id'))).not.toContain('the-session-id');
    expect(keys.session('h')).toBe('app:s:h');
  });

  it('indexes a session by subject and IdP session, or by subject alone when it names no sid', () => {
    expect(keys.indexes(session())).toEqual(['app:u:iss|alice', keys.sid('https://idp.test/realms/r', 'sid-1')]);
    expect(keys.indexes(session({ sid: undefined }))).toEqual(['app:u:iss|alice', 'app:n:iss|alice']);
    expect(keys.indexes(session({ subject: undefined, sid: undefined }))).toEqual([]);
    // One IdP session per (issuer, sid): another issuer's equal sid is another index.
    expect(keys.sid('https://idp.test/realms/r', 'sid-1')).not.toBe(keys.sid('https://other.test/realms/r', 'sid-1'));
  });

  it('seals a record that reveals no token and opens only under its own key with the same secret', () => {
    const records = new SessionRecords('s'.repeat(40));
    const value = records.seal(session(), 'app:s:h');
    expect(value).not.toContain('ACCESS-TOKEN-VALUE');
    expect(value).not.toContain('REFRESH-TOKEN-VALUE');
    const record = records.open(value, 'app:s:h');
    expect(SessionRecords.toSession('the-session-id', record!, 3_000)).toEqual({ ...session(), lastSeenMs: 3_000 });
    expect(records.open(value, 'app:s:other')).toBeUndefined();
    expect(new SessionRecords('t'.repeat(40)).open(value, 'app:s:h')).toBeUndefined();
  });

  it('never asks Redis for a zero expiry', () => {
    expect(px(0)).toEqual({ expiration: { type: 'PX', value: 1 } });
    expect(px(1.2)).toEqual({ expiration: { type: 'PX', value: 2 } });
  });
});
