import { createServer, type Server } from 'node:http';
import { NginxPurger } from '../../src/auth/nginx-purge.js';
import { createLogger } from '../../src/log.js';
import { LogCapture } from '../helpers/service.js';

/** Stands in for NGINX's purge location: records the keys asked for, 200 for those it "holds", 404 otherwise. */
let server: Server;
let purged: string[];
let held: Set<string>;
let url: URL;

beforeAll(async () => {
  server = createServer((req, res) => {
    const key = String(req.headers['x-authz-cache-key']);
    purged.push(key);
    res.statusCode = held.delete(key) ? 200 : 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/authz-cache-purge`);
});
afterAll(() => server.close());
beforeEach(() => {
  purged = [];
  held = new Set();
});

const quiet = () => createLogger('silent');

describe('NginxPurger', () => {
  it('purges exactly the keys remembered for the subject, and counts what NGINX held', async () => {
    const purger = new NginxPurger(url, 5, quiet());
    purger.remember('k1 alice', 'alice');
    purger.remember('k2 bob', 'bob');
    purger.remember('k3 alice', 'alice');
    held = new Set(['k1 alice', 'k2 bob']);
    expect(await purger.purgeSubject('alice')).toBe(1);
    expect(purged.sort()).toEqual(['k1 alice', 'k3 alice']);
    expect(held).toEqual(new Set(['k2 bob']));
  });

  it('purges again a second later (an answer NGINX stored just after the first pass)', async () => {
    const purger = new NginxPurger(url, 5, quiet());
    purger.remember('late', 'carol');
    await purger.purgeSubject('carol');
    expect(purged.filter((key) => key === 'late')).toEqual(['late']);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    // (The earlier test's own second pass may land here too: only this test's key is counted.)
    expect(purged.filter((key) => key === 'late')).toEqual(['late', 'late']);
  });

  it('ignores missing, empty, repeated and over-long keys, and nobody’s subject', async () => {
    const purger = new NginxPurger(url, 5, quiet());
    purger.remember(undefined, 'dave');
    purger.remember('', 'dave');
    purger.remember(['a', 'b'], 'dave');
    purger.remember('x'.repeat(10_000), 'dave');
    expect(await purger.purgeSubject('dave')).toBe(0);
    expect(await purger.purgeSubject('nobody')).toBe(0);
    expect(purged.filter((key) => key !== 'late')).toEqual([]);
  });

  it('forgets a key once NGINX can no longer hold it (cacheSeconds + 1)', async () => {
    const purger = new NginxPurger(url, 0, quiet()); // remembered 1 s
    purger.remember('old', 'erin');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await purger.purgeSubject('erin')).toBe(0);
    expect(purged).not.toContain('old');
  });

  it('fails soft when NGINX does not answer: 0 purged, a warning without the key', async () => {
    const logs = new LogCapture();
    const purger = new NginxPurger(new URL('http://127.0.0.1:9/authz-cache-purge'), 5, createLogger('info', logs), 500);
    purger.remember('secretish-key', 'frank');
    await expect(purger.purgeSubject('frank')).resolves.toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    const text = logs.lines.join('\n');
    expect(text).toContain('purge request failed');
    expect(text).not.toContain('secretish-key');
  });
});
