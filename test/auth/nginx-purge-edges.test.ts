import { createServer, type Server } from 'node:http';
import { NginxPurger } from '../../src/auth/nginx-purge.js';
import { createLogger } from '../../src/log.js';
import { LogCapture } from '../helpers/service.js';

// The bounds of what the purger remembers and how one purge request is made: the edges
// nginx-purge.test.ts does not reach. A stand-in for NGINX's purge location records each request.

let server: Server;
let requests: { method: string | undefined; key: string }[];
let url: URL;
let silentUrl: URL;
let silent: Server;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ method: req.method, key: String(req.headers['x-authz-cache-key']) });
    res.statusCode = 200;
    res.end();
  });
  // Accepts the connection and never answers: the purge must give up by its own timeout.
  silent = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/authz-cache-purge`);
  silentUrl = new URL(`http://127.0.0.1:${(silent.address() as { port: number }).port}/authz-cache-purge`);
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  silent.closeAllConnections();
  silent.close();
});
beforeEach(() => {
  requests = [];
});

const quiet = () => createLogger('silent');
const keysOf = (subject: string) => requests.filter((r) => r.key.endsWith(subject)).map((r) => r.key);

describe('NginxPurger, edges', () => {
  it('ignores the plain snippet’s "-" marker (its key holds credentials and is never sent)', async () => {
    const purger = new NginxPurger(url, 5, quiet());
    purger.remember('-', 'gina');
    expect(await purger.purgeSubject('gina')).toBe(0);
    expect(requests).toEqual([]);
  });

  it('remembers a key of exactly 9000 characters and ignores a longer one', async () => {
    const purger = new NginxPurger(url, 5, quiet());
    const longest = `${'k'.repeat(9_000 - 'hank'.length)}hank`;
    purger.remember(longest, 'hank');
    purger.remember(`x${longest}`, 'hank');
    expect(await purger.purgeSubject('hank')).toBe(1);
    expect(keysOf('hank')).toEqual([longest]);
  });

  it('asks with GET and the key in X-Authz-Cache-Key, one request per key', async () => {
    const purger = new NginxPurger(url, 5, quiet());
    purger.remember('k1 ivan', 'ivan');
    purger.remember('k2 ivan', 'ivan');
    expect(await purger.purgeSubject('ivan')).toBe(2);
    expect(requests.filter((r) => r.key.endsWith('ivan')).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { method: 'GET', key: 'k1 ivan' },
      { method: 'GET', key: 'k2 ivan' },
    ]);
  });

  it('keeps a key for cacheSeconds + 1 seconds (NGINX may keep the entry that long)', async () => {
    const purger = new NginxPurger(url, 1, quiet()); // remembered 2 s
    purger.remember('k jack', 'jack');
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await purger.purgeSubject('jack')).toBe(1);
  });

  it('a key allowed again for another subject is that subject’s alone', async () => {
    const purger = new NginxPurger(url, 5, quiet());
    purger.remember('shared kim', 'kim');
    purger.remember('shared kim', 'lee');
    expect(await purger.purgeSubject('kim')).toBe(0);
    expect(await purger.purgeSubject('lee')).toBe(1);
  });

  it('gives up on a purge NGINX does not answer within the timeout: 0 purged, a warning', async () => {
    const logs = new LogCapture();
    const purger = new NginxPurger(silentUrl, 5, createLogger('info', logs), 200);
    purger.remember('k mona', 'mona');
    const started = Date.now();
    await expect(purger.purgeSubject('mona')).resolves.toBe(0);
    expect(Date.now() - started).toBeLessThan(1_800);
    expect(logs.lines.join('\n')).toContain('purge request failed');
  });

  it('a key Node cannot send as a header value fails alone: the subject’s other keys are purged', async () => {
    const logs = new LogCapture();
    const purger = new NginxPurger(url, 5, createLogger('info', logs));
    purger.remember('bad\nkey nils', 'nils');
    purger.remember('good nils', 'nils');
    expect(await purger.purgeSubject('nils')).toBe(1);
    expect(keysOf('nils')).toEqual(['good nils']);
    expect(logs.lines.join('\n')).toContain('purge request failed');
  });

  it('remembers at most about 4 M characters of keys: the oldest are forgotten', async () => {
    // A long request timeout: 400-odd purges at once on a loaded machine must all be answered to be counted.
    const purger = new NginxPurger(url, 5, quiet(), 60_000);
    // 460 keys of 9000 characters (4.14 M with the subject): the first ones no longer fit.
    for (let i = 0; i < 460; i++) purger.remember(`${String(i).padStart(4, '0')}${'k'.repeat(8_992)}olga`, 'olga');
    const purged = await purger.purgeSubject('olga');
    expect(purged).toBeGreaterThan(400);
    expect(purged).toBeLessThan(460);
    expect(keysOf('olga').some((key) => key.startsWith('0000'))).toBe(false);
    expect(keysOf('olga').some((key) => key.startsWith('0459'))).toBe(true);
  }, 60_000);
});
