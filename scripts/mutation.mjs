#!/usr/bin/env node
/**
 * `npm run test:mutation [-- <options>]`: runs Stryker (stryker.config.mjs) over the security core,
 * then prints the score per folder (scripts/mutation-report.mjs). Our options:
 *   --tests <globs>  only these unit tests (comma-separated, e.g. 'test/request/**'): a focused run
 *                    (jest.mutation.config.js), its score a lower bound; pair it with --mutate
 *   --label <name>   keep this run's results apart: incremental file reports/mutation/<name>.incremental.json
 *                    and report reports/mutation/<name>.json, so several partial runs add up and each one
 *                    resumes from its own incremental file (only changed mutants and tests are run again)
 *   --min N          fails below N percent (over every reports/mutation/*.json when labelled runs exist)
 * Anything else goes to Stryker, e.g. `--mutate 'src/tokens/**\/*.ts'`, `--concurrency 1`. See docs/mutation.md.
 */
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const take = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
};
const min = take('--min');
const tests = take('--tests');
const label = take('--label');
if (label !== undefined && !/^[\w.-]+$/.test(label)) {
  console.error(`--label ${JSON.stringify(label)}: letters, digits, _ . - only`);
  process.exit(2);
}
const dir = 'reports/mutation';
const strykerArgs = label === undefined ? args : ['--incrementalFile', `${dir}/${label}.incremental.json`, ...args];
const env = tests === undefined ? process.env : { ...process.env, MUTATION_TESTS: tests };
const started = Date.now();
const stryker = spawnSync(process.execPath, ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', ...strykerArgs], {
  stdio: 'inherit',
  env,
});
console.log(`\nmutation run: ${Math.round((Date.now() - started) / 1000)} s`);
if (stryker.status !== 0) process.exit(stryker.status ?? 1);
if (label !== undefined) copyFileSync(`${dir}/mutation.json`, `${dir}/${label}.json`);
// With labelled runs, the figure is over all of them (each file's latest labelled result); else the last run.
const labelled = existsSync(dir)
  ? readdirSync(dir).filter((name) => name.endsWith('.json') && !name.includes('incremental') && name !== 'mutation.json')
  : [];
const reports = label === undefined ? [] : labelled.map((name) => `${dir}/${name}`);
const report = spawnSync(process.execPath, ['scripts/mutation-report.mjs', ...reports, ...(min === undefined ? [] : ['--min', min])], {
  stdio: 'inherit',
});
process.exit(report.status ?? 1);
