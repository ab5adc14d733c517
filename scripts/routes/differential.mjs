#!/usr/bin/env node
// Differential test of nginx-authz's URI handling against MLflow's own router.
//
//   node scripts/routes/differential.mjs [--count N] [--seed S] [--python P] [--dist-dir D] [--json]
//
// Generates N original request targets (default 100000) from the routes MLflow serves
// (test/routes/fixtures/mlflow-endpoints.json), twisted the ways an attacker twists them:
// percent-encodings of any character (either hex case), double and triple encodings, dot
// segments raw and encoded, traversal splices, repeated and trailing slashes, `;` parameters,
// backslashes, case, overlong UTF-8, look-alike characters, absolute form, query decoys and
// odd experiment ids. For each one it compares
//   * what nginx-authz decides, from the built service (dist/: request/normalize, routes/match,
//     routes/objects, the MLflow preset): deny, or resource#scope (+ the experiment, as with
//     `uma.perObject` on), and
//   * what MLflow would run for that same raw target (scripts/routes/mlflow_router_oracle.py,
//     the real FastAPI/Flask routing of the installed MLflow, no handler run).
// The expected resource#scope of an endpoint MLflow runs is our table's answer for the path
// MLflow routed (the rule with its values filled in), i.e. what the same endpoint needs when
// asked plainly. A failure is a target that MLflow would run on an endpoint, or an experiment,
// whose resource#scope differs from the one we allowed. Denials are never failures (default deny).
// Exit 1 on any failure. --python defaults to $STACK_PYTHON, then the stack's cached venv.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generate } from './differential-cases.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 || args[at + 1] === undefined ? fallback : args[at + 1];
};
const COUNT = Number(option('--count', '100000'));
const SEED = Number(option('--seed', '20261130'));
const DIST = resolve(option('--dist-dir', resolve(ROOT, 'dist')));
const PYTHON = option('--python', process.env.STACK_PYTHON ?? resolve(homedir(), '.cache/nginx-authz/venv-mlflow-3.17.2/bin/python'));
const JSON_OUT = args.includes('--json');

const load = (file) => import(pathToFileURL(resolve(DIST, file)).href);
const { normalizeUri } = await load('request/normalize.js');
const { parseRouteTable, readPreset } = await load('routes/table.js');
const { RouteMatcher } = await load('routes/match.js');
const { objectResource } = await load('routes/objects.js');
const matcher = new RouteMatcher(parseRouteTable(readPreset('mlflow'), 'preset mlflow'));

/** Our decision for a raw target: { deny } or { resource, scope, object }. */
function ours(method, target) {
  try {
    const uri = normalizeUri(target, 8192);
    const outcome = matcher.match(method, uri.path);
    if (outcome.kind !== 'matched') return { deny: outcome.kind };
    const route = outcome.match;
    const object = route.public || route.authenticated ? undefined : objectResource(method, uri.query, route);
    return { label: label(route), object, route };
  } catch (error) {
    if (error?.code === 'bad_request_uri') return { deny: 'rejected' };
    throw error;
  }
}

const label = (route) => (route.public ? 'public' : route.authenticated ? 'authenticated' : `${route.resource}#${route.scope}`);

/** The plain path MLflow routed: its rule with the values it matched filled in. */
function routedPath(rule, values) {
  const path = rule.replace(/<(?:[a-z]+:)?(\w+)>/g, (_, name) => values[name] ?? '');
  return `/${path
    .split('/')
    .filter((s) => s !== '')
    .join('/')}`;
}

/** Compares one case; returns a failure description or undefined. */
function compare(method, _target, mine, theirs) {
  if (theirs.k === 'error') return `oracle error: ${theirs.error}`;
  if (mine.deny !== undefined) return undefined;
  if (theirs.k !== 'flask' && theirs.k !== 'fastapi') return undefined; // 404/405/redirect/refused: nothing runs
  const path = routedPath(theirs.rule, theirs.values);
  const expected = matcher.match(method, path);
  if (expected.kind !== 'matched')
    return `MLflow runs ${theirs.endpoint} (${theirs.rule}) where our table says ${expected.kind} for ${path}; we allowed ${mine.label}`;
  const want = label(expected.match);
  if (want !== mine.label) return `MLflow runs ${theirs.endpoint} (${theirs.rule}) = ${want}; we allowed ${mine.label}`;
  const wantObject = expectedObject(method, expected.match, theirs);
  if (wantObject === 'refused-by-mlflow') return undefined;
  if (wantObject !== mine.object)
    return `MLflow runs ${theirs.endpoint} on ${wantObject ?? 'no experiment'}; we decided on ${mine.object ?? 'the family'} (${mine.label})`;
  return undefined;
}

/** The experiment MLflow's handler would act on, as `uma.perObject` names it. */
function expectedObject(method, route, theirs) {
  if (route.public || route.authenticated) return undefined;
  if (route.object === 'experiment-artifact-path') {
    if (!('artifact_dir' in theirs)) return undefined; // the bare listing of the root
    // `…/artifacts/` (download of the empty path): the root, no experiment's directory; decided on the
    // family like the root listing (MLflow answers 400 for a directory; PUT there is unmapped, so denied).
    if (theirs.artifact_dir === '') return undefined;
    return theirs.artifact_dir === null ? 'refused-by-mlflow' : `experiment:${theirs.artifact_dir}`;
  }
  if (route.object === 'experiment-query' && (method === 'GET' || method === 'HEAD')) {
    const ids = theirs.experiment_ids;
    if (ids.length === 0) return undefined;
    return ids[0] === null ? 'refused-by-mlflow' : `experiment:${ids[0]}`;
  }
  return undefined;
}

async function main() {
  if (!existsSync(PYTHON)) throw new Error(`no MLflow Python at ${PYTHON} (npm run stack installs it; or --python)`);
  const endpoints = JSON.parse(readFileSync(resolve(ROOT, 'test/routes/fixtures/mlflow-endpoints.json'), 'utf8')).endpoints;
  const started = performance.now();
  const cases = generate(endpoints, COUNT, SEED);
  const oracle = spawn(PYTHON, [resolve(ROOT, 'scripts/routes/mlflow_router_oracle.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
  });
  process.on('exit', () => oracle.kill()); // never outlive the run, whatever ends it
  const lines = createInterface({ input: oracle.stdout })[Symbol.asyncIterator]();
  const ready = await lines.next();
  if (ready.done || !JSON.parse(ready.value).ready) throw new Error('the MLflow oracle did not start');
  const booted = performance.now();

  const tally = { cases: 0, denied: 0, notRun: 0, compared: 0, failures: 0 };
  const byKind = {};
  const failures = [];
  const BATCH = 2000;
  for (let start = 0; start < cases.length; start += BATCH) {
    const batch = cases.slice(start, start + BATCH);
    oracle.stdin.write(
      `${batch.map(([m, u], i) => JSON.stringify(i === batch.length - 1 ? { m, u, flush: true } : { m, u })).join('\n')}\n`,
    );
    for (const [method, target] of batch) {
      const answer = await lines.next();
      if (answer.done) throw new Error('the MLflow oracle exited early');
      const theirs = JSON.parse(answer.value);
      const mine = ours(method, target);
      tally.cases++;
      byKind[theirs.k] = (byKind[theirs.k] ?? 0) + 1;
      if (mine.deny !== undefined) tally.denied++;
      else if (theirs.k === 'flask' || theirs.k === 'fastapi') tally.compared++;
      else tally.notRun++;
      const failure = compare(method, target, mine, theirs);
      if (failure !== undefined) {
        tally.failures++;
        if (failures.length < 50) failures.push({ method, target, failure });
      }
    }
  }
  oracle.stdin.end();
  await new Promise((done) => oracle.on('close', done));
  const seconds = (performance.now() - started) / 1000;
  const result = {
    ...tally,
    mlflowAnswers: byKind,
    seed: SEED,
    seconds: Math.round(seconds * 10) / 10,
    oracleStartSeconds: Math.round((booted - started) / 100) / 10,
    failureSamples: failures,
  };
  if (JSON_OUT) console.log(JSON.stringify(result));
  else {
    console.log(`differential: ${tally.cases} targets (seed ${SEED}) in ${result.seconds} s (oracle start ${result.oracleStartSeconds} s)`);
    console.log(
      `  we deny ${tally.denied}; allowed and MLflow runs nothing ${tally.notRun}; allowed and compared ${tally.compared}; MLflow answers ${JSON.stringify(byKind)}`,
    );
    for (const f of failures) console.log(`  FAIL ${f.method} ${f.target}\n       ${f.failure}`);
    console.log(tally.failures === 0 ? '  no mismatches' : `  ${tally.failures} MISMATCHES`);
  }
  process.exitCode = tally.failures === 0 ? 0 : 1;
}

await main();
