/**
 * RedisSessionStore against a real redis-server: the checks the mutation run of
 * src/session/redis-store.ts (docs/mutation.md, round 4) found unguarded or only loosely guarded.
 * Absolute and idle expiry of the local copy (to the millisecond), a key gone from Redis without an
 * event, the replica that ends sessions dropping its own copies, the per-subject cap, a refresh
 * invalidating the other replicas' copies and never bringing back an ended session, a load racing
 * an invalidation, and the index sets a deleted session leaves.
 */
import { hashId } from '../../src/session/redis-records.js';
import type { ClusterBus } from '../../src/cluster/bus.js';
import { type Session, subjectKey } from '../../src/session/store.js';
import { IDLE, ISS, type Limits, redisReplicas, tokens } from '../helpers/redis-sessions.js';

describe('RedisSessionStore, edges (real redis-server)', () => {
  const { time, replica: open } = redisReplicas();
  /** One replica as the service wires it; `problem` stands in for a bus that cannot deliver invalidations. */
  const replica = (limits: Limits = {}, problem?: () => string | undefined) =>
    open(limits, {
      bus:
        problem === undefined
          ? undefined
          : (real: ClusterBus): ClusterBus => ({
              publish: (event) => real.publish(event),
              subscribe: (listener) => real.subscribe(listener),
              problem,
              close: () => real.close(),
            }),
    });

  const settle = () => new Promise((r) => setTimeout(r, 150));

  it('ends a local copy at exactly its absolute expiry, synchronously, and removes it from Redis', async () => {
    const a = await replica({ absoluteTimeoutMs: 30_000 });
    const session = await a.store.create(tokens('abel', 'sid-abs'));
    time.now = session.absoluteExpiresAtMs - 1;
    expect(a.store.get(session.id)).toBe(session);
    time.now = session.absoluteExpiresAtMs;
    expect(a.store.get(session.id)).toBeUndefined();
    await settle();
    expect(await a.connection.client.exists(a.key(session))).toBe(0);
  });

  it('a replica loading from Redis refuses a record at exactly its absolute expiry', async () => {
    const a = await replica({ absoluteTimeoutMs: 30_000 });
    const session = await a.store.create(tokens('bert', 'sid-abs2'));
    const b = await replica({ absoluteTimeoutMs: 30_000 });
    time.now = session.absoluteExpiresAtMs;
    expect(await b.store.get(session.id)).toBeUndefined();
    const c = await replica({ absoluteTimeoutMs: 30_000 });
    time.now = session.absoluteExpiresAtMs - 1;
    expect((await c.store.get(session.id))?.id).toBe(session.id);
  });

  it('serves a local copy until 1 ms before its idle timeout; at it, Redis decides (here: the key is gone)', async () => {
    const a = await replica();
    const b = await replica();
    const created = await a.store.create(tokens('cleo', 'sid-idle'));
    const loaded = (await b.store.get(created.id)) as Session; // b's copy came from Redis
    time.now += IDLE - 1;
    expect(b.store.get(created.id)).toBe(loaded);
    // The key expires in Redis (no event is sent for that); b's copy has been idle for exactly IDLE.
    await b.connection.client.del(b.key(created));
    time.now += IDLE;
    const answer = b.store.get(created.id);
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBeUndefined();
  });

  it('at its idle timeout a local copy whose key is still in Redis is read again, not refused', async () => {
    const a = await replica();
    const created = await a.store.create(tokens('cleo', 'sid-idle2'));
    time.now += IDLE;
    const answer = a.store.get(created.id);
    expect(answer).toBeInstanceOf(Promise);
    expect((await answer)?.id).toBe(created.id);
    expect(a.store.get(created.id)).not.toBeInstanceOf(Promise); // kept again
  });

  it('pushes the key expiry back with activity, at most every idle/10, and drops a copy whose key is gone', async () => {
    // absolute < idle: the key's TTL is the absolute time left, so a push shows as a shorter TTL.
    const a = await replica({ absoluteTimeoutMs: 300_000 });
    const session = await a.store.create(tokens('dina', 'sid-touch'));
    time.now += IDLE / 10 - 1;
    expect(a.store.get(session.id)).toBe(session);
    await settle();
    expect(await a.connection.client.pTTL(a.key(session))).toBeGreaterThan(290_000); // not pushed yet
    time.now += 1; // idle/10 since creation
    expect(a.store.get(session.id)).toBe(session);
    await settle();
    const pushed = await a.connection.client.pTTL(a.key(session));
    expect(pushed).toBeLessThanOrEqual(300_000 - IDLE / 10);
    expect(pushed).toBeGreaterThan(300_000 - IDLE / 10 - 10_000);
    // The key disappears in Redis without an event: the next push finds it gone and drops the copy.
    await a.connection.client.del(a.key(session));
    time.now += IDLE / 10;
    expect(a.store.get(session.id)).toBe(session);
    await settle();
    const after = a.store.get(session.id);
    expect(after).toBeInstanceOf(Promise);
    expect(await after).toBeUndefined();
  });

  it('a push that finds the key still there keeps serving the copy synchronously', async () => {
    const a = await replica();
    const session = await a.store.create(tokens('dina', 'sid-touch2'));
    time.now += IDLE / 10;
    expect(a.store.get(session.id)).toBe(session);
    await settle();
    expect(a.store.get(session.id)).toBe(session);
  });

  it('the replica that ends sessions stops serving its own copies of them, and only of them', async () => {
    const a = await replica();
    const one = await a.store.create(tokens('emil', 'sid-e1'));
    const two = await a.store.create(tokens('emil', 'sid-e2'));
    const other = await a.store.create(tokens('fay', 'sid-f'));
    expect(await a.store.endSessions({ issuer: ISS, sid: 'sid-e1' })).toBe(1);
    expect(await a.store.get(one.id)).toBeUndefined();
    expect(a.store.get(two.id)).toBe(two);
    expect(await a.store.endSessions({ issuer: ISS, sub: 'emil' })).toBe(1);
    expect(await a.store.get(two.id)).toBeUndefined();
    expect(a.store.get(other.id)).toBe(other);
  });

  it("a logout naming sid and sub also ends the subject's sessions that carry no sid; sid alone does not", async () => {
    const a = await replica();
    const b = await replica();
    const withSid = await a.store.create(tokens('gus', 'sid-g'));
    const noSid = await a.store.create(tokens('gus', undefined, 'N'));
    const noSid2 = await a.store.create(tokens('gus', undefined, 'M'));
    expect(await b.store.endSessions({ issuer: ISS, sid: 'sid-g' })).toBe(1);
    await settle();
    expect(await a.store.get(withSid.id)).toBeUndefined();
    expect(a.store.get(noSid.id)).toBe(noSid);
    const c = await replica();
    await c.store.create(tokens('gus', 'sid-g2'));
    expect(await b.store.endSessions({ issuer: ISS, sid: 'sid-g2', sub: 'gus' })).toBe(3);
    await settle();
    expect(await a.store.get(noSid.id)).toBeUndefined();
    expect(await a.store.get(noSid2.id)).toBeUndefined();
  });

  it('ends nothing for a logout that names neither sid nor sub', async () => {
    const a = await replica();
    const session = await a.store.create(tokens('hal', 'sid-h'));
    expect(await a.store.endSessions({ issuer: ISS })).toBe(0);
    expect(a.store.get(session.id)).toBe(session);
  });

  it('caps sessions per subject: at the cap nothing ends; beyond it the oldest ends on every replica, the creating one included', async () => {
    const a = await replica({ maxPerSubject: 2 });
    const b = await replica({ maxPerSubject: 2 });
    const first = await a.store.create(tokens('ines', 'sid-i1'));
    time.now += 1_000;
    const second = await a.store.create(tokens('ines', 'sid-i2'));
    expect(a.store.get(first.id)).toBe(first);
    expect((await b.store.get(first.id))?.id).toBe(first.id);
    expect((await b.store.get(second.id))?.id).toBe(second.id);
    time.now += 1_000;
    const third = await a.store.create(tokens('ines', 'sid-i3'));
    await settle();
    expect(await a.store.get(first.id)).toBeUndefined();
    expect(await b.store.get(first.id)).toBeUndefined();
    expect(a.store.get(second.id)).toBe(second);
    expect((await b.store.get(second.id))?.id).toBe(second.id);
    expect(a.store.get(third.id)).toBe(third);
    expect(await a.connection.client.exists(a.key(first))).toBe(0);
    // The ended session leaves the subject's index too: it holds the cap's sessions, no more.
    expect(await a.connection.client.zCard(`test:u:${subjectKey(ISS, 'ines')}`)).toBe(2);
  });

  it('a logout by sub ends every session of the subject, however many', async () => {
    const a = await replica();
    const b = await replica();
    const sessions: Session[] = [];
    for (let n = 0; n < 4; n++) sessions.push(await a.store.create(tokens('quin', `sid-q${n}`)));
    expect(await b.store.endSessions({ issuer: ISS, sub: 'quin' })).toBe(4);
    await settle();
    for (const session of sessions) expect(await a.store.get(session.id)).toBeUndefined();
  });

  it('caps at 20 sessions per subject by default', async () => {
    const a = await replica();
    const sessions: Session[] = [];
    for (let n = 0; n < 21; n++) {
      time.now += 10;
      sessions.push(await a.store.create(tokens('jon', `sid-j${n}`)));
    }
    expect(await a.store.get(sessions[0]!.id)).toBeUndefined();
    for (const session of sessions.slice(1)) expect(a.store.get(session.id)).toBe(session);
  });

  it('a refresh on one replica replaces the tokens other replicas hold; the refreshing replica keeps its copy', async () => {
    const a = await replica();
    const b = await replica();
    const created = await a.store.create(tokens('kim', 'sid-k'));
    await b.store.get(created.id);
    await a.store.refreshOnce(created, async (current) => ({ ...current, accessToken: 'ACCESS-NEW', refreshToken: 'REFRESH-NEW' }));
    await settle();
    expect(a.store.get(created.id)).toBe(created);
    expect(created.tokens.refreshToken).toBe('REFRESH-NEW');
    expect((await b.store.get(created.id))?.tokens.refreshToken).toBe('REFRESH-NEW');
  });

  it('a refresh never brings back a session ended while the grant was running', async () => {
    const a = await replica();
    const b = await replica();
    const created = await a.store.create(tokens('lea', 'sid-l'));
    await a.store.refreshOnce(created, async (current) => {
      await b.store.delete(created.id);
      return { ...current, accessToken: 'ACCESS-LATE', refreshToken: 'REFRESH-LATE' };
    });
    expect(await a.connection.client.exists(a.key(created))).toBe(0);
    const c = await replica();
    expect(await c.store.get(created.id)).toBeUndefined();
  });

  it('loads a session once for concurrent misses', async () => {
    const a = await replica();
    const b = await replica();
    const created = await a.store.create(tokens('max', 'sid-m'));
    const [x, y] = await Promise.all([b.store.get(created.id), b.store.get(created.id)]);
    expect(x).toBeDefined();
    expect(y).toBe(x);
  });

  it('does not keep a copy loaded while an invalidation arrived: the session ended meanwhile is not served', async () => {
    const a = await replica();
    const b = await replica();
    const created = await a.store.create(tokens('nia', 'sid-n'));
    // Hold b's Redis read after it returns, until a has ended the session and b has seen the event.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const client = b.connection.client as unknown as { get: (...args: unknown[]) => Promise<unknown> };
    const get = client.get.bind(client);
    client.get = async (...args: unknown[]) => {
      const value = await get(...args);
      await gate;
      return value;
    };
    const loading = b.store.get(created.id);
    await settle();
    await a.store.delete(created.id);
    await settle();
    release();
    await loading; // read before the end: this answer may still name it
    client.get = get;
    const next = b.store.get(created.id);
    expect(next).toBeInstanceOf(Promise);
    expect(await next).toBeUndefined();
  });

  it('reads Redis on every request while the bus cannot deliver invalidations', async () => {
    let problem: string | undefined;
    const a = await replica({}, () => problem);
    const session = await a.store.create(tokens('olga', 'sid-o'));
    expect(a.store.get(session.id)).toBe(session);
    problem = 'bus disconnected';
    // Ended elsewhere, but the event cannot arrive: only Redis knows.
    await a.connection.client.del(a.key(session));
    const answer = a.store.get(session.id);
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBeUndefined();
  });

  it('a deleted session leaves nothing in the index sets; size, usage and close count the local copies', async () => {
    const a = await replica();
    const session = await a.store.create(tokens('pia', 'sid-p'));
    const gone = await a.store.create(tokens('pia', undefined, 'Q'));
    expect(a.store.size).toBeGreaterThanOrEqual(2);
    const usage = a.store.usage;
    expect(usage.entries).toBe(a.store.size);
    expect(usage.bytes).toBeGreaterThan(2 * 80);
    expect(usage.subjects).toBe(0);
    expect((await a.store.delete(session.id))?.id).toBe(session.id);
    expect((await a.store.delete(gone.id))?.id).toBe(gone.id);
    for (const index of [
      ...(await a.connection.client.keys('test:u:*')),
      ...(await a.connection.client.keys('test:n:*')),
      ...(await a.connection.client.keys('test:i:*')),
    ]) {
      const members = await a.connection.client.zRange(index, 0, -1);
      expect(members).not.toContain(hashId(session.id));
      expect(members).not.toContain(hashId(gone.id));
    }
    const size = a.store.size;
    await a.store.create(tokens('pia', 'sid-p2'));
    expect(a.store.size).toBe(size + 1);
    await a.store.close();
    expect(a.store.size).toBe(0);
  });
});
