import { jest } from '@jest/globals';
import { exposedGc, IdleCollector } from '../../src/ops/idle-gc.js';

const MB = 1024 * 1024;

describe('IdleCollector', () => {
  let used: number;
  let collect: jest.Mock;
  let idle: IdleCollector;
  beforeEach(() => {
    used = 50 * MB;
    collect = jest.fn(() => {
      used = 40 * MB;
    });
    idle = new IdleCollector(collect, 1_000, 8 * MB, () => used);
  });
  afterEach(() => idle.stop());

  it('collects when requests stop with a grown heap, not while they come, not again while quiet', () => {
    jest.useFakeTimers();
    try {
      idle.start(); // 50 MB in use at start
      idle.touch();
      used = 70 * MB;
      jest.advanceTimersByTime(1_000); // busy in this interval
      idle.touch();
      jest.advanceTimersByTime(1_000); // still busy
      expect(collect).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1_000); // quiet, heap 20 MB larger
      expect(collect).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(5_000); // still quiet, nothing grew
      expect(collect).toHaveBeenCalledTimes(1);
      idle.stop();
      idle.touch();
      used = 90 * MB;
      jest.advanceTimersByTime(5_000); // stopped: no checks
      expect(collect).toHaveBeenCalledTimes(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('leaves a heap that has not grown enough alone, however quiet (a metrics scrape now and then)', () => {
    idle.start();
    for (let i = 0; i < 5; i++) {
      idle.touch();
      expect(idle.check()).toBe(false);
      used += MB;
      expect(idle.check()).toBe(false);
    }
    used += 4 * MB; // 9 MB above the start
    expect(idle.check()).toBe(true);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('asks V8 for a full, compacting collection, only when node exposes its collector', () => {
    // A scope of our own: the test environment's global `gc` may be there (and not deletable) or not.
    expect(exposedGc({})).toBeUndefined();
    expect(exposedGc({ gc: 'not a function' })).toBeUndefined();
    const gc = jest.fn();
    exposedGc({ gc })?.();
    expect(gc).toHaveBeenCalledWith({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    expect(typeof exposedGc()).toBe(typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'function' : 'undefined');
  });
});
