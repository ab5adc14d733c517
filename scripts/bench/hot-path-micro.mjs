#!/usr/bin/env node
/**
 * CPU µs per call of the pieces of the cached /auth path changed on 2026-12-01 (docs/speed.md), the code before and
 * after side by side in one process, interleaved over 7 rounds (the first dropped), so a loaded machine slows both
 * alike. BEFORE and AFTER are two builds inside the checkout (`cp -r dist dist-before` on the older commit).
 *
 *   node scripts/bench/hot-path-micro.mjs dist-before dist
 */
import { createHash, hash } from 'node:crypto';
import { resolve } from 'node:path';
const [base, cur] = process.argv.slice(2).map((dir) => resolve(dir));
const { createLogger, flatLineLogger } = await import(`${cur}/log.js`);
const nb = await import(`${base}/request/normalize.js`),
  nc = await import(`${cur}/request/normalize.js`);
const rb = await import(`${base}/auth/respond.js`),
  rc = await import(`${cur}/auth/respond.js`);
const sink = { write() {} };
const log = createLogger('info', sink);
const fullAudit = log.child({ audit: true }),
  flatAudit = flatLineLogger(log, { audit: true });
const line = () => ({
  user: 'alice',
  token_fp: 'HZaexxKQnhQ8',
  method: 'GET',
  path: '/api/2.0/mlflow/experiments/search',
  resource: 'experiments',
  scope: 'read',
  decision: 'allow',
  reason: 'allowed',
  source: 'cache',
  cache_hit: true,
  latency_ms: 0.052,
  detail: undefined,
});
const token = 'eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lkIiA6ICJ' + 'x'.repeat(1350);
const uri = '/api/2.0/mlflow/experiments/search?max_results=5';
const ops = {
  'audit line, full redaction': () => fullAudit.info(line(), 'decision'),
  'audit line, flatLineLogger': () => flatAudit.info(line(), 'decision'),
  'token hash, createHash': () => createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url'),
  'token hash, crypto.hash': () => hash('sha256', token, 'buffer').subarray(0, 16).toString('base64url'),
  'normalizeUri, before': () => nb.normalizeUri(uri, 8192),
  'normalizeUri, after': () => nc.normalizeUri(uri, 8192),
  'headerSafe x4, before': () => {
    rb.headerSafe('alice', 1024);
    rb.headerSafe('0b6a1f5e-2f1a-4e0a-9d7c-3c2b1a0f9e8d', 1024);
    rb.headerSafe('alice', 1024);
    rb.headerSafe('alice@example.test', 1024);
  },
  'headerSafe x4, after': () => {
    rc.headerSafe('alice', 1024);
    rc.headerSafe('0b6a1f5e-2f1a-4e0a-9d7c-3c2b1a0f9e8d', 1024);
    rc.headerSafe('alice', 1024);
    rc.headerSafe('alice@example.test', 1024);
  },
};
const N = 50_000,
  results = Object.fromEntries(Object.keys(ops).map((k) => [k, []]));
for (let r = 0; r < 7; r++)
  for (const [k, f] of Object.entries(ops)) {
    const t = process.cpuUsage();
    for (let i = 0; i < N; i++) f();
    const d = process.cpuUsage(t);
    results[k].push((d.user + d.system) / N);
  }
for (const [k, v] of Object.entries(results)) {
  const s = v.slice(1).sort((a, b) => a - b);
  console.log(`${k.padEnd(30)} median ${s[3].toFixed(2)} µs, min ${s[0].toFixed(2)} µs`);
}
