/**
 * Keyed single flight: while a call for a key is under way, everyone asking for that key gets
 * the same promise; once it settles the key is free, so a failure is never remembered and the
 * next caller tries again. What an answer is worth afterwards (and for how long) is the
 * caller's cache's business: the caches here are `MeteredLru`s (ops/metered-lru.ts) whose entries live as
 * long as their answer says (an allow, a denial, a token's expiry), bounded in bytes and
 * metered, which a generic TTL would not express.
 */
export class SingleFlight<K, V> {
  private readonly flights = new Map<K, Promise<V>>();

  /** The call under way for `key`, or `start()` started now and shared until it settles. */
  run(key: K, start: () => Promise<V>): Promise<V> {
    const running = this.flights.get(key);
    if (running !== undefined) return running;
    const flight = start().finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }

  /** The call under way for `key`, if any. */
  pending(key: K): Promise<V> | undefined {
    return this.flights.get(key);
  }

  /** Calls under way. */
  get size(): number {
    return this.flights.size;
  }
}

/** A {@link SingleFlight} with one key: one call at a time for a value there is one of (a PAT, the issuer's metadata). */
export class OneFlight<V> {
  private flight: Promise<V> | undefined;

  /** The call under way, or `start()` started now and shared until it settles. */
  run(start: () => Promise<V>): Promise<V> {
    this.flight ??= start().finally(() => {
      this.flight = undefined;
    });
    return this.flight;
  }
}
