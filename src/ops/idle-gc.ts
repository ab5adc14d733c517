import { getHeapStatistics } from 'node:v8';

/**
 * One full, compacting garbage collection when the service goes quiet with a grown heap.
 *
 * Requests that wait on the IdP (cache misses) live long enough to be promoted to V8's old
 * generation, where they die and stay until the next major collection, which V8 schedules by
 * heap growth, not by time: after a burst of misses (a cache filling up) the service sat on
 * ≈ 15 MB of dead objects, and on the pages holding them, for as long as it stayed quiet.
 * When a check finds that no request came since the previous check and the heap in use has
 * grown by `minGrowthBytes` since the last collection, this runs one collection that also
 * compacts and hands free pages back to the system (a pause of ≈ 0.1 – 0.5 s on a 50 MB heap,
 * at a moment nothing is being served). A steady stream of requests never triggers it, and
 * neither do occasional small ones (a metrics scrape) on a heap that has not grown.
 *
 * Only with a collector to call: node started with `--expose-gc` (`npm start`, the image and
 * the stack do); without it nothing is scheduled and V8 collects on its own terms.
 */
export class IdleCollector {
  private requests = 0;
  private seenAtLastCheck = 0;
  private usedAfterCollection = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param collect the collector ({@link exposedGc})
   * @param quietMs how long without a request counts as quiet (checked every `quietMs`)
   * @param minGrowthBytes heap growth since the last collection worth a collection
   * @param heapUsed bytes of heap in use (dead objects included until collected)
   */
  constructor(
    private readonly collect: () => void,
    private readonly quietMs = 5_000,
    private readonly minGrowthBytes = 8 * 1024 * 1024,
    private readonly heapUsed: () => number = () => getHeapStatistics().used_heap_size,
  ) {}

  /** Counts a request; the only cost on the request path. */
  touch(): void {
    this.requests++;
  }

  /** Starts checking (a timer that does not keep the process alive). */
  start(): void {
    this.usedAfterCollection = this.heapUsed();
    this.timer ??= setInterval(() => this.check(), this.quietMs).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check: collects when no request came since the previous check and the heap has grown enough. */
  check(): boolean {
    const seen = this.requests;
    const quiet = seen === this.seenAtLastCheck;
    this.seenAtLastCheck = seen;
    if (!quiet || this.heapUsed() - this.usedAfterCollection < this.minGrowthBytes) return false;
    this.collect();
    this.usedAfterCollection = this.heapUsed();
    return true;
  }
}

/**
 * V8's collector, when node was started with `--expose-gc`, set to collect everything it can
 * (several passes, compacting, free pages returned): what V8 does before a heap snapshot.
 * @param scope where to find `gc` (the global object; tests pass their own)
 */
export function exposedGc(scope: { gc?: unknown } = globalThis as { gc?: unknown }): (() => void) | undefined {
  const gc = scope.gc;
  if (typeof gc !== 'function') return undefined;
  return () => (gc as (options: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
