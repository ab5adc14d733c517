/**
 * The help texts of src/ops/metrics.ts against what the code really emits: every cache that
 * counts its lookups (a `MeteredLru` in src/) and every cache whose size is reported is named
 * in its metric's help, so an operator reading `# HELP` sees each label value that can appear.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMALL_ROUTES } from '../helpers/service.js';
import { testService } from '../helpers/test-service.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** The `cache` label of every MeteredLru built in src/ (its first constructor argument). */
function meteredCacheNames(): string[] {
  const names = new Set<string>();
  for (const file of readdirSync(SRC, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    for (const match of readFileSync(join(SRC, file), 'utf8').matchAll(/new MeteredLru(?:<[^>]*>)?\(\s*'([^']+)'/g)) names.add(match[1]!);
  }
  return [...names].sort();
}

/** The `# HELP` line of `name` in the exposition text. */
function helpOf(text: string, name: string): string {
  return text.split('\n').find((line) => line.startsWith(`# HELP ${name} `))!;
}

describe('metric help texts name what the code emits', () => {
  it('authz_cache_requests_total names every metered cache', async () => {
    const names = meteredCacheNames();
    expect(names).toEqual(expect.arrayContaining(['decision', 'token', 'subject_limit']));
    const { service } = await testService({ env: SMALL_ROUTES });
    const help = helpOf(await service.metrics.registry.metrics(), 'authz_cache_requests_total');
    for (const name of names) expect(`${name}: ${help}`).toMatch(new RegExp(`[(, ]${name}[,)]`));
  });

  it('authz_cache_entries names every cache whose size is reported, with login and Basic on', async () => {
    const { service } = await testService({
      env: { ...SMALL_ROUTES, AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_BASIC_ENABLED: 'true', AUTHZ_BASIC_CLIENT_ID: 'mlflow-cli' },
    });
    const sizes = Object.keys(service.metrics.cacheSizes());
    expect(sizes).toEqual(expect.arrayContaining(['decision', 'token', 'session', 'basic', 'revocation']));
    const help = helpOf(await service.metrics.registry.metrics(), 'authz_cache_entries');
    for (const name of sizes) expect(`${name}: ${help}`).toMatch(new RegExp(`[(, ]${name}[,)]`));
  });
});
