/** src/util/maybe.ts: the decision sequence's glue (auth/pipeline.ts) stays synchronous for values, asynchronous for promises. */
import { jest } from '@jest/globals';
import { andThen } from '../../src/util/maybe.js';

describe('andThen', () => {
  it('applies the next step at once to a value: the result is the step’s own, not a promise', () => {
    const seen: string[] = [];
    const result = andThen(2, (value) => {
      seen.push('next');
      return value * 10;
    });
    seen.push('after');
    expect(result).toBe(20);
    expect(seen).toEqual(['next', 'after']);
  });

  it('chains synchronous steps without ever making a promise', () => {
    const result = andThen(
      andThen('a', (text) => `${text}b`),
      (text) => `${text}c`,
    );
    expect(result).toBe('abc');
  });

  it('waits for a promise, then applies the step: the step does not run before the value is there', async () => {
    const seen: string[] = [];
    const result = andThen(Promise.resolve(3), (value) => {
      seen.push('next');
      return value + 1;
    });
    seen.push('after');
    expect(result).toBeInstanceOf(Promise);
    expect(seen).toEqual(['after']);
    await expect(result).resolves.toBe(4);
    expect(seen).toEqual(['after', 'next']);
  });

  it('a step that answers with a promise makes the whole chain one, flattened', async () => {
    const result = andThen(1, (value) => Promise.resolve(value + 1));
    expect(result).toBeInstanceOf(Promise);
    await expect(andThen(result, (value) => value * 2)).resolves.toBe(4);
  });

  it('a step that throws on a value throws to the caller synchronously (the pipeline’s try/catch refuses it)', () => {
    expect(() =>
      andThen(1, () => {
        throw new Error('refused');
      }),
    ).toThrow('refused');
  });

  it('a rejected promise skips the step and rejects with the same error', async () => {
    const step = jest.fn((value: number) => value);
    const failure = new Error('idp down');
    await expect(andThen(Promise.reject<number>(failure), step)).rejects.toBe(failure);
    expect(step).not.toHaveBeenCalled();
  });

  it('a step that throws after a promise rejects the chain', async () => {
    await expect(
      andThen(Promise.resolve(1), () => {
        throw new Error('late refusal');
      }),
    ).rejects.toThrow('late refusal');
  });
});
