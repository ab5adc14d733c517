/** Stops the stack if global-setup.mjs started it (a stack the developer started stays up). */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const marker = `${process.env.STACK_DIR ?? `${root}/.stack`}/.started-by-tests`;

export default function globalTeardown() {
  if (!existsSync(marker)) return;
  rmSync(marker);
  execFileSync('bash', ['scripts/stack/down.sh'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}
