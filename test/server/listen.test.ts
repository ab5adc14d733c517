/** The unix socket listener's preparation: a stale socket file is removed, a live one or a plain file is refused. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeTarget, finishSocket, ListenError, listenTarget, prepareSocket } from '../../src/server/listen.js';

const dir = mkdtempSync(join(tmpdir(), 'authz-listen-'));
const server = { host: '127.0.0.1', port: 4180, keepAliveTimeoutMs: 65_000, shutdownGraceMs: 10_000, socketMode: '0600', workers: 1 };
const savedUmask = process.umask();
afterEach(() => process.umask(savedUmask));

const listen = (path: string): Promise<Server> =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(path, () => resolve(s));
  });

describe('listenTarget / describeTarget', () => {
  it('TCP unless server.listen names a socket', () => {
    expect(describeTarget(listenTarget(server))).toBe('127.0.0.1:4180');
    expect(describeTarget(listenTarget({ ...server, host: '::1' }))).toBe('[::1]:4180');
    const unix = listenTarget({ ...server, listen: 'unix:/run/a.sock', socketMode: '0660' });
    expect(unix).toEqual({ kind: 'unix', path: '/run/a.sock', mode: 0o660 });
    expect(describeTarget(unix)).toBe('unix:/run/a.sock');
  });
});

describe('prepareSocket', () => {
  it('does nothing when the file does not exist', async () => {
    await expect(prepareSocket({ kind: 'unix', path: join(dir, 'none.sock'), mode: 0o600 })).resolves.toBeUndefined();
  });

  it('removes a stale socket file nobody answers on', async () => {
    const path = join(dir, 'stale.sock');
    // A process that listens, then dies by SIGKILL: its socket file stays behind.
    spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(statSync(path).isSocket()).toBe(true);
    await prepareSocket({ kind: 'unix', path, mode: 0o600 });
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a socket another process serves, and leaves it alone', async () => {
    const path = join(dir, 'live.sock');
    const s = await listen(path);
    try {
      await expect(prepareSocket({ kind: 'unix', path, mode: 0o600 })).rejects.toThrow(/another process listens there/);
      expect(statSync(path).isSocket()).toBe(true);
    } finally {
      s.close();
    }
  });

  it('refuses a path that is a plain file, and keeps the file', async () => {
    const path = join(dir, 'plain');
    writeFileSync(path, 'keep me');
    await expect(prepareSocket({ kind: 'unix', path, mode: 0o600 })).rejects.toBeInstanceOf(ListenError);
    expect(existsSync(path)).toBe(true);
  });

  it('creates the socket with no more than the mode allows, and finishSocket sets it exactly', async () => {
    const path = join(dir, 'mode.sock');
    const target = { kind: 'unix' as const, path, mode: 0o600 };
    await prepareSocket(target);
    const s = await listen(path);
    try {
      expect(statSync(path).mode & 0o777 & ~0o600).toBe(0);
      finishSocket({ ...target, mode: 0o660 });
      expect(statSync(path).mode & 0o777).toBe(0o660);
    } finally {
      s.close();
    }
  });
});
