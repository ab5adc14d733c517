/**
 * RedisSessionStore against a real redis-server: the edges a whole-file mutation run of
 * src/session/redis-store.ts (issue #16) left unguarded. The hash index of the local copies stays
 * within the LRU's bound, Redis failures of the cap and of the expiry push are counted, a logout
 * empties the index it drained and tells the other replicas once per session, a delete or an expiry
 * that knows no index writes none, a load always pushes the expiry back, a push that finds the key
 * keeps the copy, and a record that does not decrypt is treated as absent and logged.
 */
import { createLogger } from '../../src/log.js';
import type { Metrics } from '../../src/ops/metrics.js';
import { hashId } from '../../src/session/redis-records.js';
import { type Session, subjectKey } from '../../src/session/store.js';
import { IDLE, ISS, type Limits, redisReplicas, tokens } from '../helpers/redis-sessions.js';
import { LogCapture } from '../helpers/service.js';

const counted = async (metrics: Metrics, op: string) =>
  Number(new RegExp(`authz_redis_errors_total\\{op="${op}"\\} (\\d+)`).exec(await metrics.registry.metrics())?.[1] ?? 0);

describe('RedisSessionStore, mutation kills (real redis-server)', () => {
  const { time, replica: open } = redisReplicas();
  /** One replica as the service wires it; its log goes to `logs`. */
  async function replica(limits: Limits = {}) {
    const logs = new LogCapture();
    return { ...(await open(limits, { log: createLogger('debug', logs) })), logs };
  }

  const settle = () => new Promise((r) => setTimeout(r, 150));

  /** Makes one command of a Redis client fail until the returned function puts it back. */
  function refuse(client: object, command: string): () => void {
    const commands = client as Record<string, unknown>;
    const original = commands[command];
    commands[command] = async () => {
      throw new Error(`${command} refused (test)`);
    };
    return () => {
      commands[command] = original;
    };
  }

  /** How many times Redis has run `command` since it started (INFO commandstats). */
  async function calls(client: { info(section: string): Promise<string> }, command: string): Promise<number> {
    const stats = await client.info('commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  }

  it('the hash index of the local copies stays within the LRU bound: an evicted copy leaves it, close empties it', async () => {
    const a = await replica({ maxEntries: 2 });
    // byHash is private; its size is the memory a replica holds beyond the LRU, which no getter shows.
    const byHash = (a.store as unknown as { byHash: Map<string, string> }).byHash;
    const sessions: Session[] = [];
    for (let n = 0; n < 5; n++) sessions.push(await a.store.create(tokens(`evi${n}`, `sid-ev${n}`)));
    expect(a.store.size).toBe(2);
    expect(byHash.size).toBe(2);
    expect([...byHash.values()].sort()).toEqual([sessions[3]!.id, sessions[4]!.id].sort());
    await a.store.close();
    expect(byHash.size).toBe(0);
  });

  it('a failing per-subject cap does not fail the login, and is counted as a session_write failure', async () => {
    const a = await replica();
    const restore = refuse(a.connection.client, 'zCard');
    const before = await counted(a.metrics, 'session_write');
    try {
      const session = await a.store.create(tokens('capfail', 'sid-cf'));
      expect(a.store.get(session.id)).toBe(session);
    } finally {
      restore();
    }
    expect(await counted(a.metrics, 'session_write')).toBe(before + 1);
  });

  it('a failing expiry push keeps the copy and is counted as a session_write failure', async () => {
    const a = await replica();
    const session = await a.store.create(tokens('pushfail', 'sid-pf'));
    const restore = refuse(a.connection.client, 'pExpire');
    const before = await counted(a.metrics, 'session_write');
    try {
      time.now += IDLE / 10;
      expect(a.store.get(session.id)).toBe(session);
      await settle();
    } finally {
      restore();
    }
    expect(await counted(a.metrics, 'session_write')).toBe(before + 1);
    expect(a.store.get(session.id)).toBe(session);
  });

  it('a logout empties the index it drained: by sid the IdP-session set, by sub the subject set', async () => {
    const a = await replica();
    await a.store.create(tokens('drain', 'sid-dr1'));
    await a.store.create(tokens('drain', 'sid-dr2'));
    const sidIndex = (await a.connection.client.keys('test:i:*')).length;
    expect(await a.store.endSessions({ issuer: ISS, sid: 'sid-dr1' })).toBe(1);
    const subjectIndex = `test:u:${subjectKey(ISS, 'drain')}`;
    expect(await a.connection.client.zCard(subjectIndex)).toBe(2); // a logout by sid drains the sid's set only
    // The drained sid set is empty, so Redis dropped it.
    expect((await a.connection.client.keys('test:i:*')).length).toBe(sidIndex - 1);
    expect(await a.store.endSessions({ issuer: ISS, sub: 'drain' })).toBe(1);
    expect(await a.connection.client.exists(subjectIndex)).toBe(0);
  });

  it('a logout by sub tells the other replicas once per ended session', async () => {
    const a = await replica();
    const listener = await replica();
    const ended: string[] = [];
    listener.cluster.bus.subscribe((event) => {
      if (event.kind === 'session-ended') ended.push(event.key);
    });
    const sessions = [
      await a.store.create(tokens('once', 'sid-once')),
      await a.store.create(tokens('once', undefined, 'N')),
      await a.store.create(tokens('once', undefined, 'M')),
    ];
    expect(await a.store.endSessions({ issuer: ISS, sub: 'once' })).toBe(3);
    await settle();
    expect(ended.sort()).toEqual(sessions.map((session) => hashId(session.id)).sort());
  });

  it('a delete of a session this replica holds no copy of writes its key only, no index set', async () => {
    const a = await replica();
    const b = await replica();
    const session = await a.store.create(tokens('nocopy', 'sid-nc'));
    const before = await calls(b.connection.client, 'zrem');
    expect(await b.store.delete(session.id)).toBeUndefined();
    expect(await a.connection.client.exists(a.key(session))).toBe(0);
    expect(await calls(b.connection.client, 'zrem')).toBe(before);
  });

  it('a local copy ended at its absolute expiry removes its key only, no index set', async () => {
    const a = await replica({ absoluteTimeoutMs: 30_000 });
    const session = await a.store.create(tokens('absx', 'sid-ax'));
    const before = await calls(a.connection.client, 'zrem');
    time.now = session.absoluteExpiresAtMs;
    expect(a.store.get(session.id)).toBeUndefined();
    await settle();
    expect(await a.connection.client.exists(a.key(session))).toBe(0);
    expect(await calls(a.connection.client, 'zrem')).toBe(before);
  });

  it('a load pushes the expiry back at once, even within idle/10 of the epoch (it does not rely on a last push)', async () => {
    // absolute < idle: the key's TTL is the absolute time left, so a push shows as a shorter TTL.
    time.now = 1_000;
    const a = await replica({ absoluteTimeoutMs: 300_000 });
    const session = await a.store.create(tokens('early', 'sid-early'));
    const b = await replica({ absoluteTimeoutMs: 300_000 });
    time.now += 50_000; // less than idle/10 since the epoch
    expect((await b.store.get(session.id))?.id).toBe(session.id);
    await settle();
    const ttl = await b.connection.client.pTTL(b.key(session));
    expect(ttl).toBeLessThanOrEqual(250_000);
    expect(ttl).toBeGreaterThan(240_000);
  });

  it('a push that finds the key still there keeps the loaded copy: it is served synchronously', async () => {
    const a = await replica();
    const b = await replica();
    const session = await a.store.create(tokens('keep', 'sid-keep'));
    const loaded = await b.store.get(session.id); // the load pushes the expiry (force)
    await settle();
    expect(b.store.get(session.id)).toBe(loaded);
    time.now += IDLE / 10;
    expect(b.store.get(session.id)).toBe(loaded);
    await settle();
    expect(b.store.get(session.id)).toBe(loaded);
  });

  it('a record written with another session.secret is treated as absent and logged without the id or full key', async () => {
    const a = await replica({ secret: 'a'.repeat(40) });
    const b = await replica({ secret: 'b'.repeat(40) });
    const session = await a.store.create(tokens('secret', 'sid-sec'));
    const answer = b.store.get(session.id);
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBeUndefined();
    const h = hashId(session.id);
    const warned = b.logs.records.filter((record) => record.msg?.toString().includes('did not decrypt'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({
      level: 40,
      session: h.slice(0, 12),
      msg: 'redis session store: a record did not decrypt (another session.secret?); treated as absent',
    });
    expect(b.logs.lines.join('\n')).not.toContain(session.id);
    expect(b.logs.lines.join('\n')).not.toContain(h);
    // The key is left alone (the other secret's replicas still use it).
    expect(await a.connection.client.exists(a.key(session))).toBe(1);
    expect(a.store.get(session.id)).toBe(session);
  });

  it('a record overwritten with garbage is treated as absent and logged', async () => {
    const a = await replica();
    const b = await replica();
    const session = await a.store.create(tokens('garbage', 'sid-gb'));
    await a.connection.client.set(a.key(session), 'not-a-sealed-record');
    expect(await b.store.get(session.id)).toBeUndefined();
    expect(b.logs.records.filter((record) => record.msg?.toString().includes('did not decrypt'))).toHaveLength(1);
  });
});
