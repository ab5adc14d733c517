#!/usr/bin/env node
/**
 * `npm run test:mutation [-- <options>]`: runs Stryker (stryker.config.mjs) over the security core,
 * then prints the score per folder (scripts/mutation-report.mjs). Our options:
 *   --tests <globs>  only these unit tests (comma-separated, e.g. 'test/request/**'): a focused run
 *                    (jest.mutation.config.js), its score a lower bound; pair it with --mutate
 *   --label <name>   keep this run's results apart: incremental file reports/mutation/<name>.incremental.json
 *                    and report reports/mutation/<name>.json, so several partial runs add up and each one
 *                    resumes from its own incremental file (only changed mutants and tests are run again)
 *   --each           every file of the security core in turn, focused on its mirrored tests
 *                    (src/x/y.ts: test/x/y*.test.ts, else test/x/**), labelled x-y: the weekly run; stopped,
 *                    it starts again where it was (finished files come back from their incremental files)
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
const each = args.includes('--each') ? args.splice(args.indexOf('--each'), 1).length > 0 : false;
const min = take('--min');
const tests = take('--tests');
const label = take('--label');
if (label !== undefined && !/^[\w.-]+$/.test(label)) {
  console.error(`--label ${JSON.stringify(label)}: letters, digits, _ . - only`);
  process.exit(2);
}
const dir = 'reports/mutation';
const CORE = ['request', 'routes', 'tokens', 'decide', 'login', 'session', 'basic', 'policy', 'auth'];

if (each) {
  // One focused, labelled run per file (this script again), so each finished file is kept.
  let failed = 0;
  for (const folder of CORE) {
    for (const name of readdirSync(`src/${folder}`)
      .filter((n) => n.endsWith('.ts'))
      .sort()) {
      const stem = name.slice(0, -3);
      const own = existsSync(`test/${folder}`) && readdirSync(`test/${folder}`).some((t) => t.startsWith(stem) && t.endsWith('.test.ts'));
      const tests = own ? `test/${folder}/${stem}*.test.ts` : `test/${folder}/**/*.test.ts`;
      console.log(`\n== ${folder}/${name} (tests: ${tests})`);
      const run = spawnSync(
        process.execPath,
        [process.argv[1], '--label', `${folder}-${stem}`, '--mutate', `src/${folder}/${name}`, '--tests', tests, ...args],
        { stdio: 'inherit' },
      );
      if (run.status !== 0) failed++;
    }
  }
  const report = spawnSync(process.execPath, ['scripts/mutation-report.mjs', '--labelled', ...(min === undefined ? [] : ['--min', min])], {
    stdio: 'inherit',
  });
  process.exit(failed > 0 ? 1 : (report.status ?? 1));
}
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
const report = spawnSync(
  process.execPath,
  ['scripts/mutation-report.mjs', ...(label === undefined ? [] : ['--labelled']), ...(min === undefined ? [] : ['--min', min])],
  {
    stdio: 'inherit',
  },
);
process.exit(report.status ?? 1);
