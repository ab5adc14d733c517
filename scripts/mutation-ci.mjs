#!/usr/bin/env node
/**
 * The reduced mutation run (`npm run test:mutation:reduced`, docs/mutation.md "A reduced run in CI?"):
 * a few small, decisive files of the security core, each against its own unit tests (a focused,
 * labelled run of scripts/mutation.mjs), each with a minimum score, so a change that leaves one of
 * their checks unguarded fails. A step of .ci/run, after the unit tests (a few minutes on a quiet
 * two-core machine; docs/mutation.md has the times).
 *
 *   node scripts/mutation-ci.mjs [--concurrency N]
 *
 * Prints one line per target (score, mutants, seconds) and the total time; exits 1 when a target is
 * below its minimum or its run failed. `MUTATION_CI=skip` skips it, but only outside CI (`CI=true`
 * refuses the skip: CI runs it or fails).
 */
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/**
 * What the reduced run mutates. Chosen for the decision each file makes and for a run short enough for CI
 * (times measured from scratch in docs/mutation.md). `min`: the score demanded, set a little below
 * the last measured one (equivalent survivors, listed in docs/mutation.md, can never be killed).
 */
export const CI_TARGETS = [
  { label: 'ci-routes-match', mutate: 'src/routes/match.ts', tests: 'test/routes/match*.test.ts', min: 95 },
  {
    label: 'ci-login-pending',
    mutate: 'src/login/pending.ts',
    tests: 'test/login/pending*.test.ts,test/login/endpoints*.test.ts',
    min: 90,
  },
];

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

/**
 * The score of one Stryker JSON report (mutation-testing-report schema), as scripts/mutation-report.mjs
 * counts it: detected (killed, timed out) over detected plus undetected (survived, not covered).
 * @returns score in percent (NaN without any counted mutant), counts, and the undetected mutants as `file:line mutator`
 */
export function scoreOf(report) {
  let detected = 0;
  let undetected = 0;
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files ?? {})) {
    for (const m of mutants) {
      if (DETECTED.has(m.status)) detected++;
      else if (UNDETECTED.has(m.status)) {
        undetected++;
        survivors.push(`${file}:${m.location.start.line} ${m.status} ${m.mutatorName}`);
      }
    }
  }
  const counted = detected + undetected;
  return { score: counted === 0 ? Number.NaN : (100 * detected) / counted, detected, undetected, survivors };
}

/**
 * Whether a target passes: a run that failed, or that counted no mutant at all (a wrong path or glob
 * would otherwise pass empty), fails like a score below the minimum.
 */
export function verdict(target, runStatus, result) {
  if (runStatus !== 0) return { ok: false, why: `the mutation run failed (exit ${runStatus})` };
  if (result === undefined) return { ok: false, why: 'no report was written' };
  if (Number.isNaN(result.score)) return { ok: false, why: 'no mutant was tested (wrong path or tests?)' };
  if (result.score < target.min) return { ok: false, why: `score ${result.score.toFixed(1)} % is below ${target.min} %` };
  return { ok: true, why: `score ${result.score.toFixed(1)} % (min ${target.min} %)` };
}

/** Why to skip the run, or undefined to run it; throws when asked to skip in CI. */
export function skipReason(env) {
  if (env.MUTATION_CI !== 'skip') return undefined;
  if (env.CI === 'true') throw new Error('MUTATION_CI=skip is refused in CI: the reduced mutation run is part of it');
  return 'MUTATION_CI=skip';
}

/** The scripts/mutation.mjs arguments of a target. */
export function mutationArgs(target, concurrency) {
  return ['--label', target.label, '--mutate', target.mutate, '--tests', target.tests, '--concurrency', String(concurrency)];
}

function main(argv) {
  const at = argv.indexOf('--concurrency');
  const concurrency = at >= 0 ? Number(argv[at + 1]) : 2;
  let skip;
  try {
    skip = skipReason(process.env);
  } catch (error) {
    console.error(`mutation (reduced): ${error.message}`);
    return 1;
  }
  if (skip !== undefined) {
    console.log(`== mutation (reduced): skipped (${skip})`);
    return 0;
  }
  const started = Date.now();
  let failed = 0;
  for (const target of CI_TARGETS) {
    const begun = Date.now();
    const run = spawnSync(process.execPath, ['scripts/mutation.mjs', ...mutationArgs(target, concurrency)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const file = `reports/mutation/${target.label}.json`;
    const result = run.status === 0 && existsSync(file) ? scoreOf(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
    const { ok, why } = verdict(target, run.status ?? 1, result);
    const seconds = Math.round((Date.now() - begun) / 1000);
    const counts = result === undefined ? '' : `, ${result.detected} detected, ${result.undetected} undetected`;
    console.log(`== mutation ${target.mutate}: ${ok ? 'ok' : 'FAILED'}, ${why}${counts}, ${seconds} s`);
    if (result !== undefined && !ok) for (const s of result.survivors) console.log(`   ${s}`);
    if (!ok) failed++;
  }
  console.log(
    `== mutation (reduced, ${CI_TARGETS.length} files, concurrency ${concurrency}): ${Math.round((Date.now() - started) / 1000)} s`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(main(process.argv.slice(2)));
