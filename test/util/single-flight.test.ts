import { describe, expect, it } from '@jest/globals';
import { OneFlight, SingleFlight } from '../../src/util/single-flight.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('shares one call per key while it runs, and keeps keys apart', async () => {
    const flights = new SingleFlight<string, number>();
    const a = deferred<number>();
    let calls = 0;
    const start = () => {
      calls++;
      return a.promise;
    };
    const first = flights.run('a', start);
    const second = flights.run('a', start);
    expect(second).toBe(first);
    expect(flights.pending('a')).toBe(first);
    const other = flights.run('b', () => Promise.resolve(2));
    expect(other).not.toBe(first);
    a.resolve(1);
    await expect(first).resolves.toBe(1);
    await expect(other).resolves.toBe(2);
    expect(calls).toBe(1);
    expect(flights.size).toBe(0);
    expect(flights.pending('a')).toBeUndefined();
  });

  it('does not remember a failure: the next caller starts a new call', async () => {
    const flights = new SingleFlight<string, number>();
    await expect(flights.run('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(flights.run('k', () => Promise.resolve(3))).resolves.toBe(3);
  });
});

describe('OneFlight', () => {
  it('shares the call under way and starts afresh once it settled', async () => {
    const flight = new OneFlight<string>();
    const d = deferred<string>();
    const first = flight.run(() => d.promise);
    expect(flight.run(() => Promise.resolve('other'))).toBe(first);
    d.reject(new Error('down'));
    await expect(first).rejects.toThrow('down');
    await expect(flight.run(() => Promise.resolve('next'))).resolves.toBe('next');
  });
});
