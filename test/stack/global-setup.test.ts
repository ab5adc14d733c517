import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error -- plain ESM module of the e2e setup, without type declarations
import { sourceFingerprint } from '../e2e/global-setup.mjs';

const fingerprint = sourceFingerprint as (dir: string) => string;

// The e2e setup restarts a running service whose source fingerprint differs from this checkout's:
// every change that alters the build must change the fingerprint, and nothing else may.
describe('sourceFingerprint (test/e2e/global-setup.mjs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authz-fingerprint-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'src/login'), { recursive: true });
  writeFileSync(join(dir, 'src/login/routes.ts'), 'export const state = 1;\n');
  writeFileSync(join(dir, 'package-lock.json'), '{}');
  writeFileSync(join(dir, 'tsconfig.json'), '{}');

  it('is stable, and changes with a source edit, a new source file, a renamed file, the lock file or the tsconfig', () => {
    const base = fingerprint(dir);
    expect(fingerprint(dir)).toBe(base);
    writeFileSync(join(dir, 'README.md'), 'not part of the build');
    expect(fingerprint(dir)).toBe(base);

    const seen = new Set([base]);
    const changed = (what: string) => {
      const now = fingerprint(dir);
      expect([what, seen.has(now)]).toEqual([what, false]);
      seen.add(now);
    };
    writeFileSync(join(dir, 'src/login/routes.ts'), 'export const state = 2;\n');
    changed('edit');
    writeFileSync(join(dir, 'src/login/extra.ts'), '');
    changed('new file');
    rmSync(join(dir, 'src/login/extra.ts'));
    writeFileSync(join(dir, 'src/login/other.ts'), '');
    changed('renamed file');
    writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion":3}');
    changed('lock file');
    writeFileSync(join(dir, 'tsconfig.json'), '{"compilerOptions":{}}');
    changed('tsconfig');
  });
});
