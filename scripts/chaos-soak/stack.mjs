/**
 * The running development stack as the chaos and soak scripts see it: its ports (`.stack/env`,
 * `.stack/ports.env`), users' tokens from the real Keycloak, and the stack scripts that stop and
 * start its parts (scripts/stack/*.sh), run without blocking the event loop so load keeps flowing.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const STACK_DIR = process.env.STACK_DIR ?? `${ROOT}.stack`;

/** KEY=VALUE lines of a file written by the stack scripts (values are simple or %q-quoted). */
function readEnvFile(path) {
  const out = {};
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  }
  return out;
}

/**
 * Ports and URLs of the running stack. Throws with a hint when it is not up.
 * @returns {{ kcUrl: string, kcMgmtPort: number, kcPort: number, tokenUrl: string, mlflowPort: number, loadPort: number, authzPort: number, password: (u: string) => string }}
 */
export function stackInfo() {
  const env = { ...readEnvFile(`${STACK_DIR}/ports.env`), ...readEnvFile(`${STACK_DIR}/env`) };
  for (const k of ['KC_PORT', 'KC_MGMT_PORT', 'NGINX_MLFLOW_PORT', 'NGINX_LOAD_TEST_PORT', 'AUTHZ_PORT']) {
    if (!env[k]) throw new Error(`${k} unknown in ${STACK_DIR}: start the stack first (npm run stack)`);
  }
  const suffix = env.DEMO_PASSWORD_SUFFIX ?? '-dev-password';
  return {
    kcPort: Number(env.KC_PORT),
    kcMgmtPort: Number(env.KC_MGMT_PORT),
    kcUrl: `http://127.0.0.1:${env.KC_PORT}`,
    tokenUrl: `http://127.0.0.1:${env.KC_PORT}/realms/mlflow/protocol/openid-connect/token`,
    mlflowPort: Number(env.NGINX_MLFLOW_PORT),
    loadPort: Number(env.NGINX_LOAD_TEST_PORT),
    authzPort: Number(env.AUTHZ_PORT),
    password: (u) => `${u}${suffix}`, // development passwords of the demo users (keycloak/mlflow-realm.json)
  };
}

/**
 * A user's access token from Keycloak (password grant on the public mlflow-cli client), or
 * undefined while Keycloak does not answer.
 */
export async function fetchToken(info, user, timeoutMs = 10_000) {
  try {
    const res = await fetch(info.tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'mlflow-cli', username: user, password: info.password(user) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return undefined;
    return (await res.json()).access_token;
  } catch {
    return undefined;
  }
}

/** HTTP status of a GET, or 0 when nothing answers. */
export async function httpStatus(url, timeoutMs = 1000) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port, timeoutMs = 300) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Runs `scripts/stack/<script> <args>` asynchronously (load keeps running meanwhile); resolves
 * with its exit code. Output goes to our stderr, prefixed, so a run's log shows what the stack did.
 */
export function stackScript(script, args, extraEnv = {}) {
  return new Promise((resolve) => {
    const child = spawn('bash', [`${ROOT}scripts/stack/${script}`, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = (chunk) => process.stderr.write(chunk.toString().replace(/^(?=.)/gm, '  | '));
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** Pid of a stack service from its pid file (the process group leader the stack scripts started). */
export function servicePid(name) {
  const f = `${STACK_DIR}/run/${name}.pid`;
  return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined;
}

/** Resident set size of a process in bytes (Linux /proc), or undefined once it is gone. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system, seconds) a process has used so far (Linux /proc; clock ticks of 10 ms). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14 and 15 of stat)
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process and its direct children (NGINX's master and workers). */
export function treeCpuSeconds(pid) {
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    /* gone */
  }
  return [pid, ...children].reduce((sum, p) => sum + (cpuSeconds(p) ?? 0), 0);
}
