/**
 * The Redis key names are shared by every replica, including replicas of the release before a
 * rolling upgrade: a back-channel logout handled by a new replica must find the index an old one
 * wrote. These tests build the names independently from the documented layout (`s:` + the first 32
 * characters of base64url(SHA-256(id)); `i:` + the first 22 of base64url(SHA-256(JSON [issuer
 * without trailing slashes, sid]))). Found unguarded by the mutation run of src/session/redis-records.ts
 * (docs/mutation.md, round 4): the tests compared names only with names computed by the same code.
 */
import { createHash } from 'node:crypto';
import type { RedisConnection } from '../../src/cluster/redis.js';
import { hashId, SessionKeys } from '../../src/session/redis-records.js';

const keys = new SessionKeys({ key: (name: string) => `app:${name}` } as unknown as RedisConnection);
const sha = (text: string) => createHash('sha256').update(text).digest('base64url');

describe('the Redis key names (stable across replicas and releases)', () => {
  it('names a session and an IdP session index as documented', () => {
    expect(hashId('the-session-id')).toBe(sha('the-session-id').slice(0, 32));
    expect(keys.session(hashId('the-session-id'))).toBe(`app:s:${sha('the-session-id').slice(0, 32)}`);
    expect(keys.sid('https://idp.test/realms/r', 'sid-1')).toBe(`app:i:${sha('["https://idp.test/realms/r","sid-1"]').slice(0, 22)}`);
  });

  it('takes an issuer with or without trailing slashes as the same IdP', () => {
    expect(keys.sid('https://idp.test/realms/r/', 'sid-1')).toBe(keys.sid('https://idp.test/realms/r', 'sid-1'));
    expect(keys.sid(undefined, 'sid-1')).toBe(`app:i:${sha('[null,"sid-1"]').slice(0, 22)}`);
  });
});
