// A real redis-server (the Debian binary) speaking only TLS, for tests of `rediss://`: a throwaway CA and server
// certificate made with openssl in a temp dir at test time (no key is kept in the repository), `port 0` (no plain
// listener), a free tls-port on 127.0.0.1, a password for the default (admin) user and ACL users given by the test.
// Everything goes through a config file (mode 600), so no password is visible in `ps`.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from './redis-server.js';

/** Whether redis-server and openssl are on PATH (tests skip without them outside CI and fail in CI). */
export const haveRedisTls = ['redis-server', 'openssl'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

export interface TlsFiles {
  readonly dir: string;
  /** The CA that signed the server's and the client's certificates. */
  readonly ca: string;
  /** Another CA, which signed nothing the server presents (the "wrong CA"). */
  readonly otherCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate and key signed by `ca` (for `tls-auth-clients yes`). */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** Makes the throwaway PKI in a new temp dir (P-256 keys, one day). Remove it with `rmSync(files.dir)`. */
export function makeTlsFiles(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), 'authz-redis-tls-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'other-ca'])
    openssl('req', '-x509', ...key, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`);
  writeFileSync(at('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(at('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'nginx-authz'],
  ] as const) {
    openssl('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
  return {
    dir,
    ca: at('ca.crt'),
    otherCa: at('other-ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
  };
}

export interface TlsRedis {
  readonly tlsPort: number;
  /** The default user's password (the test's admin connection). */
  readonly adminPassword: string;
  /** A connected admin client (default user, over TLS): ACL SETUSER, ACL LOG. */
  admin(): Promise<ReturnType<typeof createClient>>;
  stop(): Promise<void>;
}

/**
 * Starts redis-server with only a TLS listener. `users` are `user` lines of redis.conf (ACL rules), e.g.
 * `svc on >secret ~p:* &p:* -@all +get`. `authClients`: whether the server demands a client certificate.
 */
export async function startTlsRedis(files: TlsFiles, options: { users?: string[]; authClients?: boolean } = {}): Promise<TlsRedis> {
  const tlsPort = await freePort();
  const adminPassword = randomBytes(12).toString('hex');
  const conf = join(files.dir, `redis-${tlsPort}.conf`);
  const lines = [
    'port 0',
    'bind 127.0.0.1',
    `tls-port ${tlsPort}`,
    `tls-cert-file ${files.serverCert}`,
    `tls-key-file ${files.serverKey}`,
    `tls-ca-cert-file ${files.ca}`,
    `tls-auth-clients ${options.authClients === true ? 'yes' : 'no'}`,
    `requirepass ${adminPassword}`,
    'save ""',
    'appendonly no',
    `dir ${files.dir}`,
    ...(options.users ?? []).map((rules) => `user ${rules}`),
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(conf, 0o600);
  const child: ChildProcess = spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server (TLS) did not start: ${output}`)), 10_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server (TLS) exited (${code}): ${output}`));
    });
  });
  const clients: Array<ReturnType<typeof createClient>> = [];
  return {
    tlsPort,
    adminPassword,
    async admin() {
      const client = createClient({
        url: `rediss://127.0.0.1:${tlsPort}`,
        password: adminPassword,
        socket: {
          tls: true,
          ca: readFileSync(files.ca),
          ...(options.authClients === true ? { cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) } : {}),
        },
      });
      client.on('error', () => undefined);
      clients.push(client);
      await client.connect();
      return client;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of clients.splice(0)) if (client.isOpen) client.destroy();
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Removes the temp dir of {@link makeTlsFiles}. */
export function removeTlsFiles(files: TlsFiles | undefined): void {
  if (files !== undefined) rmSync(files.dir, { recursive: true, force: true });
}
