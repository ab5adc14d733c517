#!/usr/bin/env node
/**
 * Mutation score per source folder from Stryker's JSON report (reports/mutation/mutation.json,
 * the mutation-testing-report schema). Score = detected / (detected + undetected), where detected
 * is Killed or Timeout and undetected is Survived or NoCoverage; mutants the compiler rejects
 * (CompileError) or that break the test run (RuntimeError) or are Ignored do not count.
 *
 * Usage: node scripts/mutation-report.mjs [report.json ... | --labelled] [--survivors] [--min <percent>]
 *   --labelled   every labelled run's report (reports/mutation/<label>.json, scripts/mutation.mjs --label)
 *   several reports (labelled runs, scripts/mutation.mjs --label) add up; for a file in more than one,
 *   the newest report's mutants count
 *   --survivors  also lists every undetected mutant (file:line, mutator, replacement)
 *   --min N      exits 1 when the overall score is below N
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';

const args = process.argv.slice(2);
const named = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--min');
const LABELLED_DIR = 'reports/mutation';
const labelled = () =>
  readdirSync(LABELLED_DIR)
    .filter((name) => name.endsWith('.json') && !name.endsWith('.incremental.json') && name !== 'mutation.json')
    .map((name) => `${LABELLED_DIR}/${name}`);
const reportFiles = args.includes('--labelled') ? labelled() : named.length > 0 ? named : ['reports/mutation/mutation.json'];
const min = args.includes('--min') ? Number(args[args.indexOf('--min') + 1]) : undefined;
// Oldest first, so a newer report's result for the same source file replaces an older one.
const loaded = reportFiles.map((name) => ({ name, mtime: statSync(name).mtimeMs })).sort((a, b) => a.mtime - b.mtime);
const report = { files: {} };
for (const { name } of loaded) Object.assign(report.files, JSON.parse(readFileSync(name, 'utf8')).files);

const _DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const folders = new Map();
const survivors = [];
for (const [path, { mutants }] of Object.entries(report.files)) {
  const folder = path.replace(/\\/g, '/').replace(/\/[^/]+$/, '/');
  const row = folders.get(folder) ?? { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 };
  for (const m of mutants) {
    if (m.status === 'Killed') row.killed++;
    else if (m.status === 'Timeout') row.timeout++;
    else if (m.status === 'Survived') row.survived++;
    else if (m.status === 'NoCoverage') row.noCoverage++;
    else row.other++;
    if (UNDETECTED.has(m.status))
      survivors.push(
        `${path}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}`,
      );
  }
  folders.set(folder, row);
}

const score = (r) => {
  const detected = r.killed + r.timeout;
  const total = detected + r.survived + r.noCoverage;
  return total === 0 ? NaN : (100 * detected) / total;
};
const pad = (s, n) => String(s).padEnd(n);
const num = (s, n) => String(s).padStart(n);
const total = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 };
console.log(
  `${pad('folder', 18)}${num('score', 8)}${num('killed', 8)}${num('timeout', 8)}${num('survived', 9)}${num('no cov', 8)}${num('n/a', 6)}`,
);
for (const [folder, r] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
  for (const k of Object.keys(total)) total[k] += r[k];
  console.log(
    `${pad(folder, 18)}${num(score(r).toFixed(1), 7)}%${num(r.killed, 8)}${num(r.timeout, 8)}${num(r.survived, 9)}${num(r.noCoverage, 8)}${num(r.other, 6)}`,
  );
}
console.log(
  `${pad('all', 18)}${num(score(total).toFixed(1), 7)}%${num(total.killed, 8)}${num(total.timeout, 8)}${num(total.survived, 9)}${num(total.noCoverage, 8)}${num(total.other, 6)}`,
);
if (args.includes('--survivors')) for (const s of survivors.sort()) console.log(s);
if (min !== undefined && !(score(total) >= min)) {
  console.error(`mutation score ${score(total).toFixed(1)}% is below ${min}%`);
  process.exit(1);
}
