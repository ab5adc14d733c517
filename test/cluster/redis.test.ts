/**
 * connectRedis's pure parts: which credentials reach node-redis, and how a failed connection is described in the log.
 * (The connection itself, over TLS with an ACL user, is proven on a real redis-server: test/cluster/redis-tls.test.ts.)
 */
import { createServer, type Socket } from 'node:net';
import { connectRedis, credentials, explain } from '../../src/cluster/redis.js';
import { RedisCluster } from '../../src/cluster/redis-bus.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';

const settings = (over: Partial<Config['redis']> = {}) => ({ keyPrefix: 'p:', commandTimeoutMs: 1_000, ...over }) as Config['redis'];

describe('credentials: redis.username / redis.password override the URL’s', () => {
  it('a user in the URL and the password from AUTHZ_REDIS_PASSWORD: both reach the client, the URL loses its user info', () => {
    // node-redis ignores the password option when the URL has user info: the service sent the user without a password.
    expect(credentials(new URL('rediss://svc@redis.example:6380/0'), settings({ password: 'from-env' }))).toEqual({
      url: 'rediss://redis.example:6380/0',
      username: 'svc',
      password: 'from-env',
    });
  });

  it('the options win over the URL; the URL’s are used (decoded) when no option is set', () => {
    expect(credentials(new URL('redis://u:p%40ss@h:1'), settings({ username: 'other', password: 'pw' }))).toEqual({
      url: 'redis://h:1',
      username: 'other',
      password: 'pw',
    });
    expect(credentials(new URL('redis://u:p%40ss@h:1'), settings())).toEqual({ url: 'redis://h:1', username: 'u', password: 'p@ss' });
    expect(credentials(new URL('redis://:only-pw@h:1'), settings())).toEqual({ url: 'redis://h:1', password: 'only-pw' });
    expect(credentials(new URL('redis://h:1'), settings())).toEqual({ url: 'redis://h:1' });
  });
});

describe('explain: a Redis connection error as logged', () => {
  const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('names TLS certificate verification and the options that decide it', () => {
    const text = explain(coded('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), true);
    expect(text).toMatch(
      /^TLS certificate verification failed \(SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain\)/,
    );
    expect(text).toContain('redis.tlsCaFile');
    expect(explain(coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), true)).toContain(
      'redis.tlsServername',
    );
  });

  it('points a TLS alert at the client certificate options', () => {
    expect(explain(coded('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'alert'), true)).toMatch(/^TLS handshake failed.*redis\.tlsCertFile/);
  });

  it('suggests rediss:// when a plain connection is reset; leaves other errors as they are', () => {
    expect(explain(coded('ECONNRESET', 'read ECONNRESET'), false)).toContain('the URL must be rediss://');
    expect(explain(coded('ECONNRESET', 'read ECONNRESET'), true)).toBe('read ECONNRESET');
    expect(explain(new Error('WRONGPASS invalid username-password pair or user is disabled.'), true)).toBe(
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(explain('text', false)).toBe('text');
  });
});

describe('close: nothing keeps running after the service stops', () => {
  /**
   * A TCP server on 127.0.0.1 that accepts connections and never answers (or, with `handshake`, answers only the
   * client's CLIENT SETINFO handshake, then nothing); counts the connections.
   */
  async function silentServer(handshake = false) {
    const sockets = new Set<Socket>();
    const accepted = { count: 0 };
    const server = createServer((socket) => {
      accepted.count++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      if (handshake) socket.on('data', (data) => socket.write('+OK\r\n'.repeat(data.toString().split('SETINFO').length - 1)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const stop = async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    };
    return { sockets, accepted, port, stop };
  }
  const waitFor = async (probe: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!probe() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  /** `cluster.close()`, or 'still waiting' after `ms`. */
  const closeWithin = async (cluster: RedisCluster, ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      cluster.close().then(() => 'closed'),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still waiting'), ms);
      }),
    ]);
    clearTimeout(timer);
    return outcome;
  };

  it('ends connections stuck in their handshake (AUTH never answered): closed at once, no reconnection after', async () => {
    // A graceful close waits for the replies to the commands in flight (the handshake's AUTH): from this server they
    // never come. Awaited in turn, it kept the main client's close from ever running, and that client's retry timer
    // kept the process (and Jest) alive after the last test.
    const silent = await silentServer();
    try {
      const config = {
        redis: { url: `redis://127.0.0.1:${silent.port}`, password: 'p', keyPrefix: 'x:', commandTimeoutMs: 200 },
      } as Config;
      const connection = connectRedis(config, new Metrics(), createLogger('silent'));
      const cluster = new RedisCluster(connection, createLogger('silent'));
      // Both connections (commands, and the bus's subscriber) are open and waiting for the handshake's reply.
      await waitFor(() => silent.sockets.size === 2, 5_000);
      expect(silent.sockets.size).toBe(2);
      expect(connection.client.isReady).toBe(false);
      expect(await closeWithin(cluster, 500)).toBe('closed');
      expect(connection.client.isOpen).toBe(false);
      // No connection is opened again: longer than the longest wait between retries (2 s).
      const before = silent.accepted.count;
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(silent.accepted.count).toBe(before);
    } finally {
      await silent.stop();
    }
  });

  it('a connected server that stops answering: the close gives up waiting for replies within a bound', async () => {
    const silent = await silentServer(true);
    try {
      // The handshake is answered, so the client is ready; its PUBLISH probe and the subscriber's SUBSCRIBE are never
      // answered: a graceful close alone would wait for them forever.
      const config = { redis: { url: `redis://127.0.0.1:${silent.port}`, keyPrefix: 'x:', commandTimeoutMs: 200 } } as Config;
      const connection = connectRedis(config, new Metrics(), createLogger('silent'));
      const cluster = new RedisCluster(connection, createLogger('silent'));
      await waitFor(() => connection.client.isReady, 5_000);
      expect(connection.client.isReady).toBe(true);
      expect(await closeWithin(cluster, 3_000)).toBe('closed');
      expect(connection.client.isOpen).toBe(false);
    } finally {
      await silent.stop();
    }
  });
});
