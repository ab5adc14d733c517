import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `node scripts/<name>` with `env` (the built dist/ of this checkout) and returns its JSON summary. */
export function runScript(
  name: string,
  env: Record<string, string>,
): Promise<{ code: number | null; summary: Record<string, unknown> & { failures: string[] }; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`scripts/${name}`], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        resolve({ code, summary: JSON.parse(out), stderr: err });
      } catch {
        reject(new Error(`scripts/${name} printed no summary (exit ${code}): ${err.slice(-2000)}`));
      }
    });
  });
}
