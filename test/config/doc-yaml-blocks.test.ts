import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { loadRoutes } from '../../src/routes/load.js';
import { DOC_FILES, type DocBlock, extractBlocks } from '../e2e/doc-blocks.js';

// Every YAML block of the docs goes through the service's own loaders (loadConfig, then loadRoutes),
// as the file an operator would write from it: a doc showing an option that does not exist, a policy
// in the wrong place or a malformed route table fails here. How a block is taken (whole file, part
// merged into a base file, route table) is said by the comment before it: test/e2e/doc-blocks.ts.
// No stack is needed, so these run with the unit tests.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Kubernetes manifests and annotations among the data blocks are test/docs/doc-kubernetes-blocks.test.ts's.
const CONFIG_KINDS = new Set(['config', 'config-part', 'routes']);
const blocks = DOC_FILES.flatMap((file) => extractBlocks(ROOT, file)).filter(
  (block) => block.skip === undefined && block.yaml !== undefined && CONFIG_KINDS.has(block.yaml.kind),
);
const where = (block: DocBlock): string => `${block.file}:${block.line}`;

/** A base configuration for a route table: the smallest the loader accepts, with the table as `routes.file`. */
const ROUTES_BASE = { issuer: { url: 'https://idp.example.com/realms/mlflow' }, client: { id: 'nginx-authz' } };

function asMapping(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} is not a YAML mapping`);
  return value as Record<string, unknown>;
}

/** The configuration file an operator would end up with from `block` (and, for a route table, that table's file). */
function configFrom(block: DocBlock, text: string, dir: string): Record<string, unknown> {
  const role = block.yaml!;
  if (role.kind === 'config') return asMapping(parseYaml(text), where(block));
  if (role.kind === 'routes') {
    const file = join(dir, 'routes.yaml');
    writeFileSync(file, text);
    return { ...ROUTES_BASE, routes: { file } };
  }
  if (role.kind !== 'config-part') throw new Error(`${where(block)} is a ${role.kind} block, not configuration`);
  const base = asMapping(parseYaml(readFileSync(join(ROOT, role.base), 'utf8')), role.base);
  let target = base;
  for (const key of role.at) {
    target[key] ??= {};
    target = asMapping(target[key], `${role.base} at ${role.at.join('.')}`);
  }
  Object.assign(target, asMapping(parseYaml(text), where(block)));
  return base;
}

/**
 * Secret files live where the service is deployed (e.g. the Helm chart's /etc/nginx-authz/secrets/), never in
 * the repository: a `secretFile` a block names that does not exist here is pointed at a file in `dir` holding a
 * test value, as test/config/examples.test.ts does for examples/idp/, so the rest of the block is still checked.
 */
function withSecretFiles(value: unknown, dir: string): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'secretFile' && typeof inner === 'string' && isAbsolute(inner) && !existsSync(inner)) {
      const standIn = join(dir, `secret-${inner.replaceAll('/', '_')}`);
      writeFileSync(standIn, 'doc-test-secret-value-for-tests-only-0123456789\n');
      (value as Record<string, unknown>)[key] = standIn;
    } else withSecretFiles(inner, dir);
  }
}

/** Loads `text` as `block` says, with only AUTHZ_CONFIG set (no AUTHZ_* of the test's environment). */
function load(block: DocBlock, text: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'doc-yaml-'));
  try {
    const file = join(dir, 'config.yaml');
    const written = configFrom(block, text, dir);
    withSecretFiles(written, dir);
    writeFileSync(file, stringify(written));
    const config = loadConfig({ AUTHZ_CONFIG: file });
    loadRoutes(config.routes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The block with one option no loader knows added to its top-level mapping. */
const withUnknownOption = (text: string): string => `docTestNoSuchOption: 1\n${text}`;

test('the docs have YAML blocks (configuration and a route table), none skipped', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  expect(blocks.map((block) => block.yaml!.kind)).toEqual(expect.arrayContaining(['routes', 'config-part']));
});

describe.each(blocks.map((block) => [where(block), block] as const))('yaml block %s', (_name, block) => {
  test('is accepted by the service loaders as the docs show it', () => {
    try {
      load(block, block.text);
    } catch (error) {
      const detail = error instanceof ConfigError ? error.problems.join('\n') : (error as Error).message;
      throw new Error(`${where(block)} (${JSON.stringify(block.yaml)}) is rejected:\n${detail}\n--- block ---\n${block.text}`);
    }
  });

  test('would be rejected with an option that does not exist (the check can fail)', () => {
    expect(() => load(block, withUnknownOption(block.text))).toThrow(/docTestNoSuchOption/);
  });
});
