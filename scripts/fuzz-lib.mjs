/**
 * Shared by `npm run fuzz` and `npm run abuse` (and their short versions in the test suite):
 * a local issuer on 127.0.0.1 that answers what the service asks (discovery, JWKS, UMA
 * decisions, the PAT, the protection API, password grants), the built service started as
 * `npm start` starts it (same environment assignments and V8 heap flags), and its resident
 * size read from /proc. Nothing here talks to any other address.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Users the issuer knows: password = `<name>-pw`; `allowed` says which decisions Keycloak would grant. */
export const USERS = {
  alice: { groups: ['mlflow-admins'], allowed: () => true },
  carol: {
    groups: ['mlflow-viewers'],
    allowed: (permission) => permission.endsWith('#read') && !permission.startsWith('bucket:') && !permission.startsWith('experiment:'),
  },
  mallory: { groups: [], allowed: () => false },
};

/**
 * A minimal issuer. `down = true` makes every call after discovery answer 503 (an outage).
 * Counts calls by kind in `calls`.
 */
export async function startIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'fuzz', alg: 'ES256', use: 'sig' };
  const state = { down: false, calls: { uma: 0, pat: 0, password: 0, resource_set: 0, permission: 0 }, url: '' };
  const sign = (claims, expiresInSec = 3600) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: state.url, aud: 'nginx-authz', typ: 'Bearer', iat: now, exp: now + expiresInSec, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'fuzz' })
      .sign(privateKey);
  };
  const userToken = (name, extra = {}) =>
    sign({ sub: `sub-${name}`, preferred_username: name, email: `${name}@fuzz.test`, groups: USERS[name].groups, ...extra });
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => void answer(req, body, res).catch(() => res.destroy()));
  });
  async function answer(req, body, res) {
    const url = new URL(req.url, 'http://x');
    const base = state.url;
    const json = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname.endsWith('/.well-known/openid-configuration')) {
      return json(200, {
        issuer: base,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/certs`,
        authorization_endpoint: `${base}/auth`,
        introspection_endpoint: `${base}/introspect`,
        end_session_endpoint: `${base}/logout`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
      });
    }
    if (url.pathname.endsWith('/certs')) return json(200, { keys: [jwk] });
    if (state.down) return json(503, { error: 'unavailable' });
    if (url.pathname.endsWith('/.well-known/uma2-configuration')) {
      return json(200, {
        issuer: base,
        token_endpoint: `${base}/token`,
        permission_endpoint: `${base}/permission`,
        resource_registration_endpoint: `${base}/resource_set`,
      });
    }
    if (url.pathname.endsWith('/resource_set')) {
      state.calls.resource_set++;
      // Keycloak has resources for experiments 1-9 only, and none matching any other URI.
      const name = url.searchParams.get('name') ?? '';
      return json(200, /^experiment:[1-9]$/.test(name) ? [`id-${name}`] : []);
    }
    if (url.pathname.endsWith('/permission')) {
      state.calls.permission++;
      return json(201, { ticket: 'ticket.fuzz' });
    }
    if (url.pathname.endsWith('/token')) {
      const form = new URLSearchParams(body);
      const grant = form.get('grant_type');
      if (grant === 'client_credentials') {
        state.calls.pat++;
        return json(200, { access_token: await sign({ sub: 'service-account' }, 300), token_type: 'Bearer', expires_in: 300 });
      }
      if (grant === 'password') {
        state.calls.password++;
        const name = form.get('username');
        if (!Object.hasOwn(USERS, name ?? '') || form.get('password') !== `${name}-pw`)
          return json(401, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
        return json(200, {
          access_token: await userToken(name),
          token_type: 'Bearer',
          expires_in: 3600,
          refresh_token: 'r',
          refresh_expires_in: 3600,
        });
      }
      state.calls.uma++;
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const name = usernameOf(bearer);
      const permission = form.get('permission') ?? '';
      // Keycloak refuses names it does not have (400 invalid_resource): buckets other than `mlflow`.
      if (permission.startsWith('bucket:') && !permission.startsWith('bucket:mlflow#')) return json(400, { error: 'invalid_resource' });
      return json(
        name !== undefined && USERS[name].allowed(permission) ? 200 : 403,
        name !== undefined && USERS[name].allowed(permission) ? { result: true } : { error: 'access_denied' },
      );
    }
    json(404, { error: 'not_found' });
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${server.address().port}/realms/fuzz`;
  return {
    state,
    /** A signed access token for one of {@link USERS}. */
    token: userToken,
    /** A validly signed token of an unknown subject (no permission anywhere). */
    sign,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The user a token of this issuer names (the UMA endpoint trusts what it signed itself); undefined for others. */
function usernameOf(token) {
  try {
    const name = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).preferred_username;
    return Object.hasOwn(USERS, name) ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The built service (dist/main.js) as `npm start` runs it: the script's environment
 * assignments and node flags (heap limit), with `env` added. Resolves when /readyz answers.
 */
export async function startService(issuerUrl, env = {}, options = {}) {
  const words = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')).scripts.start.split(' ');
  const startEnv = Object.fromEntries(words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=')));
  const flags = words.filter((w) => w.startsWith('--'));
  const port = await freePort();
  const child = spawn(process.execPath, [...flags, `${ROOT}/dist/main.js`], {
    env: {
      PATH: process.env.PATH ?? '',
      ...startEnv,
      AUTHZ_ISSUER_URL: issuerUrl,
      AUTHZ_CLIENT_ID: 'nginx-authz',
      AUTHZ_CLIENT_SECRET: 'fuzz-only-secret',
      AUTHZ_PORT: String(port),
      // The local issuer shares its event loop with the load generator: under load its answers can
      // take seconds, which must not read as an outage (503). Outages are the `down` switch's to make.
      AUTHZ_LOG_LEVEL: 'fatal',
      AUTHZ_DECISION_TIMEOUT_MS: '20000',
      ...env,
    },
    stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  // Log lines at error level and above (pino: 50+), the first thousand: enough to show what went wrong.
  const errorLines = [];
  let partial = '';
  child.stdout?.on('data', (chunk) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (errorLines.length < 1000 && /"level":(5|6)\d/.test(line)) errorLines.push(line);
  });
  // Never outlive the script, whatever ends it (an exception, Ctrl-C, a test runner's SIGTERM).
  process.on('exit', () => child.kill('SIGKILL'));
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exit = { code: undefined, signal: undefined };
  child.on('exit', (code, signal) => Object.assign(exit, { code, signal, at: Date.now() }));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (exit.at !== undefined) throw new Error(`service exited at start (${exit.code ?? exit.signal}): ${stderr}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 200) throw new Error('service did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    base,
    port,
    flags,
    child,
    exit,
    stderr: () => stderr,
    /** Error-level log lines (with `captureStdout`). */
    stdoutLines: () => errorLines,
    alive: () => exit.at === undefined,
    /** Resident set size in MB, from /proc (undefined once the process is gone). */
    rssMb() {
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        return kb === undefined ? undefined : Number(kb) / 1024;
      } catch {
        return undefined;
      }
    },
    async metrics() {
      return (await fetch(`${base}/metrics`)).text();
    },
    async stop() {
      if (exit.at !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await once(child, 'exit').catch(() => undefined);
      clearTimeout(timer);
    },
  };
}

/** A loopback port nothing listens on now (the machine is shared: a random guess can collide). */
async function freePort() {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  await once(probe, 'close');
  return port;
}

/** A seeded PRNG (mulberry32): a failing fuzz run is replayed with the same FUZZ_SEED. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

/** Runs `task(i)` for i in [0, count) with `parallel` workers; resolves when all are done. */
export async function pool(count, parallel, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await task(next++);
    }),
  );
}
