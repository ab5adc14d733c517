/**
 * The development stack's variables as the benches read them: `.stack/ports.env` and `.stack/env` (written by
 * scripts/stack/up.sh), the latter winning. Kept apart so that a test can hold the names to what up.sh writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `NAME=value` lines of a file (single quotes around a value removed). */
export function readVars(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) out[match[1]] = match[2].replace(/^'(.*)'$/, '$1');
  }
  return out;
}

/** The variables of the stack in `stackDir`. */
export function stackVars(stackDir) {
  return { ...readVars(join(stackDir, 'ports.env')), ...readVars(join(stackDir, 'env')) };
}

/** Throws unless the stack runs two replicas (`STACK_REPLICAS=2` in .stack/env, from `AUTHZ_REPLICAS=2 npm run stack`). */
export function needTwoReplicas(vars) {
  if (vars.STACK_REPLICAS !== '2') throw new Error('needs the stack with two replicas: AUTHZ_REPLICAS=2 npm run stack');
}
