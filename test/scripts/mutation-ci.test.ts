/**
 * The parts of CI's reduced mutation run (scripts/mutation-ci.mjs) that decide whether CI passes: the
 * score is counted as scripts/mutation-report.mjs counts it, a run that failed or tested nothing fails,
 * a score under the minimum fails, and the skip is refused in CI.
 */
import { existsSync } from 'node:fs';
// @ts-expect-error: plain JavaScript module of the scripts, no types
import { CI_TARGETS, mutationArgs, scoreOf, skipReason, verdict } from '../../scripts/mutation-ci.mjs';

const mutant = (status: string, line = 1) => ({ status, mutatorName: 'EqualityOperator', location: { start: { line, column: 1 } } });

describe('scripts/mutation-ci.mjs', () => {
  it('counts killed and timed-out mutants as detected, survived and uncovered as not, and ignores the rest', () => {
    const result = scoreOf({
      files: {
        'src/a.ts': { mutants: [mutant('Killed'), mutant('Timeout'), mutant('Survived', 7), mutant('CompileError')] },
        'src/b.ts': { mutants: [mutant('Killed'), mutant('NoCoverage', 9), mutant('RuntimeError'), mutant('Ignored')] },
      },
    });
    expect(result).toMatchObject({ detected: 3, undetected: 2, score: 60 });
    expect(result.survivors).toEqual(['src/a.ts:7 Survived EqualityOperator', 'src/b.ts:9 NoCoverage EqualityOperator']);
    expect(scoreOf({ files: { 'src/a.ts': { mutants: [mutant('CompileError')] } } }).score).toBeNaN();
  });

  it('fails a target below its minimum, at exactly the minimum it passes', () => {
    const target = { label: 't', mutate: 'src/x.ts', tests: 'test/x.test.ts', min: 90 };
    expect(verdict(target, 0, { score: 89.9 }).ok).toBe(false);
    expect(verdict(target, 0, { score: 90 }).ok).toBe(true);
    expect(verdict(target, 0, { score: 100 }).ok).toBe(true);
  });

  it('fails a target whose run failed, wrote no report, or tested no mutant', () => {
    const target = { label: 't', mutate: 'src/x.ts', tests: 'test/x.test.ts', min: 0 };
    expect(verdict(target, 1, { score: 100 })).toMatchObject({ ok: false, why: expect.stringContaining('exit 1') });
    expect(verdict(target, 0, undefined)).toMatchObject({ ok: false, why: 'no report was written' });
    expect(verdict(target, 0, { score: Number.NaN })).toMatchObject({ ok: false, why: expect.stringContaining('no mutant') });
  });

  it('skips only when asked and never in CI', () => {
    expect(skipReason({})).toBeUndefined();
    expect(skipReason({ CI: 'true' })).toBeUndefined();
    expect(skipReason({ MUTATION_CI: 'skip' })).toBe('MUTATION_CI=skip');
    expect(() => skipReason({ MUTATION_CI: 'skip', CI: 'true' })).toThrow(/refused in CI/);
  });

  it('runs each target focused on its own tests, labelled apart, with a minimum, on files that exist', () => {
    for (const target of CI_TARGETS as { label: string; mutate: string; tests: string; min: number }[]) {
      expect(existsSync(target.mutate.replace(/:.*$/, ''))).toBe(true);
      expect(target.min).toBeGreaterThanOrEqual(85);
      expect(mutationArgs(target, 2)).toEqual([
        '--label',
        target.label,
        '--mutate',
        target.mutate,
        '--tests',
        target.tests,
        '--concurrency',
        '2',
      ]);
    }
    expect(new Set(CI_TARGETS.map((t: { label: string }) => t.label)).size).toBe(CI_TARGETS.length);
  });
});
