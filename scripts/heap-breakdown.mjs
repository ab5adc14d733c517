#!/usr/bin/env node
/**
 * Where a heap snapshot's bytes are (`node scripts/heap-breakdown.mjs file.heapsnapshot [rows]`):
 * self size and count per node type and constructor/name, largest first. Strings are grouped by
 * kind (flat, cons, sliced, internalized) rather than by text, so that the cost of cache keys
 * shows as one row. Take the snapshot with `BENCH_HEAP_SNAPSHOT=<file> npm run bench`.
 */
import { readFileSync } from 'node:fs';

const [file, rowsArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node scripts/heap-breakdown.mjs <file.heapsnapshot> [rows]');
  process.exit(2);
}
const snapshot = JSON.parse(readFileSync(file, 'utf8'));
const meta = snapshot.snapshot.meta;
const fields = meta.node_fields;
const types = meta.node_types[fields.indexOf('type')];
const width = fields.length;
const typeAt = fields.indexOf('type');
const nameAt = fields.indexOf('name');
const sizeAt = fields.indexOf('self_size');
const { nodes, strings } = snapshot;
const groups = new Map();
let total = 0;
for (let i = 0; i < nodes.length; i += width) {
  const type = types[nodes[i + typeAt]];
  const size = nodes[i + sizeAt];
  total += size;
  let name = strings[nodes[i + nameAt]];
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
  else if (name.length > 60) name = `${name.slice(0, 57)}...`;
  const key = `${type}\t${name}`;
  const group = groups.get(key) ?? { count: 0, bytes: 0 };
  group.count++;
  group.bytes += size;
  groups.set(key, group);
}
const rows = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(rowsArg ?? 30));
console.log(`total self size ${(total / 1048576).toFixed(1)} MB in ${nodes.length / width} nodes`);
for (const [key, { count, bytes }] of rows) {
  console.log(
    `${(bytes / 1048576).toFixed(2).padStart(8)} MB ${String(count).padStart(9)}  ${(bytes / count).toFixed(0).padStart(6)} B  ${key}`,
  );
}
