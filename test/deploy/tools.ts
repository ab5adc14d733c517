/**
 * Where the deployment tools live: the same paths scripts/stack/install.sh builds them to
 * (scripts/stack/lib.sh is the one place that names versions and paths), and a clear failure
 * when one is missing instead of a skipped test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type ToolVar = 'PROMTOOL_BIN' | 'PROMETHEUS_BIN' | 'HELM_BIN' | 'K8S_VALIDATE_VENV' | 'PROMETHEUS_OPERATOR_CRDS';
const INSTALL_STEP: Record<ToolVar, string> = {
  PROMTOOL_BIN: 'prometheus',
  PROMETHEUS_BIN: 'prometheus',
  HELM_BIN: 'helm',
  K8S_VALIDATE_VENV: 'k8sschemas',
  PROMETHEUS_OPERATOR_CRDS: 'k8sschemas',
};

/** The path scripts/stack/lib.sh gives a tool; throws with the install command when it is not there. */
export function toolPath(name: ToolVar): string {
  const result = spawnSync('bash', ['-c', `. scripts/stack/lib.sh && printf %s "$${name}"`], { cwd: ROOT, encoding: 'utf8' });
  const path = result.stdout;
  if (result.status !== 0 || path === '') throw new Error(`cannot read ${name} from scripts/stack/lib.sh: ${result.stderr}`);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/stack/install.sh ${INSTALL_STEP[name]}\``);
  return path;
}

/** What a finished command printed and how it ended. */
export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to the end (no shell), from the repository root unless told otherwise. */
export function run(command: string, args: string[], options: { cwd?: string; input?: string; timeoutMs?: number } = {}): Run {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? ROOT,
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
