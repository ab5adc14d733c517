#!/usr/bin/env node
/**
 * `npm run test:mutation [-- <stryker options>]`: runs Stryker (stryker.config.mjs) over the security
 * core, then prints the score per folder (scripts/mutation-report.mjs). Options go to Stryker, e.g.
 * `-- --mutate 'src/tokens/**\/*.ts'` for one folder; `--min N` (ours) fails below N percent.
 */
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const minAt = args.indexOf('--min');
const min = minAt >= 0 ? args.splice(minAt, 2)[1] : undefined;
const started = Date.now();
const stryker = spawnSync(process.execPath, ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', ...args], { stdio: 'inherit' });
console.log(`\nmutation run: ${Math.round((Date.now() - started) / 1000)} s`);
if (stryker.status !== 0) process.exit(stryker.status ?? 1);
const report = spawnSync(process.execPath, ['scripts/mutation-report.mjs', ...(min === undefined ? [] : ['--min', min])], {
  stdio: 'inherit',
});
process.exit(report.status ?? 1);
