import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';

// What the tests of src/config/ share: the smallest environment the loader accepts, the problems a
// refused one reports, and configuration files written to a directory of their own.

/** The three variables a configuration needs; every other option has a default. */
export const MINIMAL_ENV: Readonly<Record<string, string>> = {
  AUTHZ_ISSUER_URL: 'http://127.0.0.1:8080/realms/mlflow',
  AUTHZ_CLIENT_ID: 'nginx-authz',
  AUTHZ_CLIENT_SECRET: 's3cret-value',
};

/** The problems `load` reports; fails the test when it throws anything but a ConfigError, or loads without complaint. */
export function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/** The problems loading `env` reports (see {@link problemsOf}). */
export function configProblems(env: Record<string, string>): string[] {
  return problemsOf(() => loadConfig(env));
}

/** Writes `text` to `name` in its directory and returns the path; `dir` is that directory (for paths that must not exist). */
export type ConfigFileWriter = ((name: string, text: string) => string) & { readonly dir: string };

/** A writer of files into one new temporary directory, which `prefix` names. */
export function configFiles(prefix = 'authz-config-'): ConfigFileWriter {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return Object.assign(write, { dir });
}
