/**
 * Brings up the real stack for the e2e project with the command a user runs
 * (scripts/stack/up.sh: installs what is missing, cached; starts Keycloak, MinIO, MLflow,
 * nginx-authz and NGINX on 127.0.0.1), unless it is already running. A stack started here is
 * stopped again by global-teardown.mjs, so nothing outlives the test run.
 *
 * The e2e run always tests this checkout: the service's source (src/, the lock file, the
 * TypeScript settings) is fingerprinted, and a running service that was not started from a
 * build of that exact source (or that was restarted by someone else since) is rebuilt and
 * restarted before any test runs (see ensureCurrentService).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// STACK_DIR names a stack started elsewhere (another checkout or worktree), as in stack.ts.
const stackDir = process.env.STACK_DIR ?? `${root}/.stack`;
export const STARTED_MARKER = `${stackDir}/.started-by-tests`;
/** `<source fingerprint> <service pid>` of the service this setup last (re)started. */
const TESTED_SOURCE = `${stackDir}/run/authz.tested-source`;

/** sha256 over the files a build of the service depends on (paths and contents). */
export function sourceFingerprint(dir = root) {
  const hash = createHash('sha256');
  const add = (rel) => {
    hash.update(`${rel}\0`);
    hash.update(readFileSync(join(dir, rel)));
    hash.update('\0');
  };
  const walk = (rel) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) add(child);
    }
  };
  walk('src');
  for (const file of ['package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) if (existsSync(join(dir, file))) add(file);
  return hash.digest('hex');
}

function servicePid() {
  const file = `${stackDir}/run/authz.pid`;
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

function stack(script, args = [], env = {}) {
  execFileSync('bash', [`scripts/stack/${script}`, ...args], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });
}

function recordTested() {
  writeFileSync(TESTED_SOURCE, `${sourceFingerprint()} ${servicePid()}\n`);
}

/**
 * A running stack of this checkout whose service was built from other source (edited since, another
 * branch checked out, or started by hand from an old dist/) is rebuilt and restarted. A stack named by
 * STACK_DIR belongs to another checkout, which this one cannot rebuild: refused in CI, warned otherwise.
 */
function ensureCurrentService() {
  if (/^STACK_AUTHZ=stub$/m.test(readFileSync(`${stackDir}/env`, 'utf8'))) return; // the TEST-ONLY stand-in: no service to be stale
  const recorded = existsSync(TESTED_SOURCE) ? readFileSync(TESTED_SOURCE, 'utf8').trim() : '';
  const current = `${sourceFingerprint()} ${servicePid()}`;
  if (recorded === current) return;
  if (process.env.STACK_DIR !== undefined) {
    const message = `e2e: the service of STACK_DIR=${stackDir} was not started from this checkout's source; its results would not test this checkout`;
    if (process.env.CI === 'true') throw new Error(`${message} (refused in CI)`);
    process.stdout.write(`\n${message}\n`);
    return;
  }
  process.stdout.write(
    `\ne2e: the running service ${recorded === '' ? 'has no record of the source it was built from' : 'was built from other source'}: rebuilding and restarting it\n`,
  );
  stack('authz.sh', ['stop']);
  stack('authz.sh', ['start'], { STACK_BUILD: '1' });
  recordTested();
}

export default function globalSetup() {
  const running =
    existsSync(`${stackDir}/env`) &&
    spawnSync('bash', ['scripts/stack/status.sh'], { cwd: root, stdio: 'ignore', env: { ...process.env, STACK_DIR: stackDir } }).status ===
      0;
  if (running) {
    process.stdout.write(`\ne2e: using the running stack (${stackDir}/env)\n`);
    ensureCurrentService();
    return;
  }
  // A stack named by STACK_DIR belongs to whoever started it: never start (or later stop) it from here.
  if (process.env.STACK_DIR !== undefined)
    throw new Error(`e2e: no running stack in STACK_DIR=${stackDir} (start it there with scripts/stack/up.sh)`);
  process.stdout.write('\ne2e: bringing up the stack with scripts/stack/up.sh (first run installs Keycloak, MinIO, MLflow, NGINX)\n');
  stack('up.sh', [], { STACK_BUILD: '1' });
  writeFileSync(STARTED_MARKER, new Date().toISOString());
  recordTested();
}
