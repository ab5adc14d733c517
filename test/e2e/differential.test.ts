/**
 * The fast part of the differential test against MLflow's own router (issue 10, B): 5,000
 * generated request targets (seed of the day, so the cases change from run to run while each run
 * can be replayed), each decided by the built service's URI handling and routed by the real
 * MLflow of the stack's venv (scripts/routes/mlflow_router_oracle.py). Any target MLflow would
 * run on an endpoint or experiment whose resource#scope differs from the one we allow fails.
 * The full run (100,000 targets) is `npm run test:differential` (README, "URI handling").
 * In the e2e project because it needs the stack's MLflow install (no running service).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT, stack } from './stack.js';

const run = promisify(execFile);
const SEED = Number(new Date().toISOString().slice(0, 10).replaceAll('-', ''));

interface Result {
  cases: number;
  denied: number;
  notRun: number;
  compared: number;
  failures: number;
  mlflowAnswers: Record<string, number>;
  failureSamples: unknown[];
}

it('finds no request MLflow would route differently from our decision (5,000 targets)', async () => {
  let stdout: string;
  try {
    ({ stdout } = await run(
      process.execPath,
      [`${ROOT}/scripts/routes/differential.mjs`, '--count', '5000', '--seed', String(SEED), '--python', stack.STACK_PYTHON!, '--json'],
      { cwd: ROOT, maxBuffer: 16 << 20 },
    ));
  } catch (error) {
    stdout = (error as { stdout?: string }).stdout ?? '';
    if (!stdout.startsWith('{')) throw error;
  }
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as Result;
  expect({ seed: SEED, failures: result.failures, samples: result.failureSamples }).toEqual({ seed: SEED, failures: 0, samples: [] });
  expect(result.cases).toBe(5000);
  // Not vacuous: both of MLflow's routers ran endpoints, and many allowed targets were compared.
  expect(result.mlflowAnswers.flask).toBeGreaterThan(500);
  expect(result.mlflowAnswers.fastapi).toBeGreaterThan(100);
  expect(result.compared).toBeGreaterThan(500);
}, 300_000);
