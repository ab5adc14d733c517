/**
 * Brings up the real stack for the e2e project with the command a user runs
 * (scripts/stack/up.sh: installs what is missing, cached; starts Keycloak, MinIO, MLflow,
 * nginx-authz and NGINX on 127.0.0.1), unless it is already running. A stack started here is
 * stopped again by global-teardown.mjs, so nothing outlives the test run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// STACK_DIR names a stack started elsewhere (another checkout or worktree), as in stack.ts.
const stackDir = process.env.STACK_DIR ?? `${root}/.stack`;
export const STARTED_MARKER = `${stackDir}/.started-by-tests`;

export default function globalSetup() {
  const running = existsSync(`${stackDir}/env`) && spawnSync('bash', ['scripts/stack/status.sh'], { cwd: root, stdio: 'ignore', env: { ...process.env, STACK_DIR: stackDir } }).status === 0;
  if (running) {
    process.stdout.write(`\ne2e: using the running stack (${stackDir}/env)\n`);
    return;
  }
  // A stack named by STACK_DIR belongs to whoever started it: never start (or later stop) it from here.
  if (process.env.STACK_DIR !== undefined) throw new Error(`e2e: no running stack in STACK_DIR=${stackDir} (start it there with scripts/stack/up.sh)`);
  process.stdout.write('\ne2e: bringing up the stack with scripts/stack/up.sh (first run installs Keycloak, MinIO, MLflow, NGINX)\n');
  execFileSync('bash', ['scripts/stack/up.sh'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, STACK_BUILD: '1' } });
  writeFileSync(STARTED_MARKER, new Date().toISOString());
}
