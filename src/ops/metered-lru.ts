import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Metrics } from './metrics.js';

/** Keys longer than this are stored as their SHA-256 (see {@link boundedKey}). */
export const MAX_PLAIN_KEY_LENGTH = 96;

/**
 * Bookkeeping an entry costs beyond its key and value: the LRU's index slots, the Map entry,
 * string and object headers. An estimate on the safe side: 100,000 cached decisions (≈ 40-character
 * flat keys, a number each) measured ≈ 108 bytes an entry of live heap under Node 24, plus the
 * LRU's preallocated slot (≈ 36 bytes); earlier code with cons-string keys took ≈ 230.
 */
export const ENTRY_OVERHEAD_BYTES = 150;

/**
 * A cache key of bounded length: the key itself when short, else `#` + its SHA-256 (base64url).
 * Keys built from request data (paths, resource names) can be as long as a URI; hashing them
 * keeps each entry small whatever the request, and a collision would take a second preimage
 * of SHA-256. `#` never starts a plain key of ours (token hashes are base64url).
 */
export function boundedKey(key: string): string {
  return key.length <= MAX_PLAIN_KEY_LENGTH ? key : `#${createHash('sha256').update(key).digest('base64url')}`;
}

/**
 * A sequential (flat) copy of a key built by concatenation. V8 keeps `${a}\u0000${b}` as a tree
 * of 32-byte cons cells over its parts and keeps that tree when the string becomes a Map key:
 * a decision key cost ≈ 90 bytes of cells on top of its characters. The JSON round trip
 * copies every UTF-16 code unit exactly (lone surrogates included) into one flat string.
 * Costs about a microsecond, paid once per stored entry (a miss), never per lookup.
 */
export function flatKey(key: string): string {
  return JSON.parse(JSON.stringify(key)) as string;
}

/** Estimated heap bytes of a string: two bytes a character (V8 stores non-Latin-1 text that way), plus a header. */
export function stringBytes(value: string | undefined): number {
  return value === undefined ? 0 : 16 + 2 * value.length;
}

export interface LruBounds {
  /** At most this many entries... */
  maxEntries: number;
  /** ...and at most this many estimated bytes (keys, values and {@link ENTRY_OVERHEAD_BYTES} each). */
  maxBytes: number;
  /** The estimated bytes of one value (not its key); default: a small fixed object. */
  sizeOf?: (value: never) => number;
}

/**
 * A bounded LRU map whose hits, misses and evictions (for space, not expiry) show in
 * `authz_cache_requests_total` and `authz_cache_evictions_total` under `cache="<name>"`.
 * Label children are resolved once: these counters are touched on every /auth request.
 *
 * Bounded twice: by entries and by estimated bytes, so that long values cannot grow the heap
 * past `maxBytes` however few entries they take; keys are passed through {@link boundedKey}.
 */
export class MeteredLru<V extends object | number> {
  private readonly entries: LRUCache<string, V>;
  private readonly hits;
  private readonly misses;

  constructor(name: string, bounds: LruBounds, metrics: Metrics) {
    this.hits = metrics.cacheRequests.labels(name, 'hit');
    this.misses = metrics.cacheRequests.labels(name, 'miss');
    const evictions = metrics.cacheEvictions.labels(name);
    const sizeOf = (bounds.sizeOf as ((value: V) => number) | undefined) ?? ((value: V) => (typeof value === 'number' ? 8 : 64));
    this.entries = new LRUCache<string, V>({
      max: bounds.maxEntries,
      maxSize: bounds.maxBytes,
      // lru-cache wants a positive integer; an entry larger than maxSize is simply not stored.
      sizeCalculation: (value, key) => Math.max(1, Math.ceil(ENTRY_OVERHEAD_BYTES + stringBytes(key) + sizeOf(value))),
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') evictions.inc();
      },
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Estimated bytes held (see {@link LruBounds.maxBytes}). */
  get bytes(): number {
    return this.entries.calculatedSize;
  }

  /** The entry when `fresh` accepts it (counted as a hit); otherwise undefined (a miss). */
  lookup(key: string, fresh: (value: V) => boolean): V | undefined {
    const value = this.entries.get(boundedKey(key));
    if (value !== undefined && fresh(value)) {
      this.hits.inc();
      return value;
    }
    this.misses.inc();
    return undefined;
  }

  /** Stores the value under a flat copy of the key (see {@link flatKey}). */
  set(key: string, value: V): void {
    this.entries.set(flatKey(boundedKey(key)), value);
  }

  /**
   * Stores the value under `key` itself rather than a copy: for a key the value already holds
   * (an identity's token hash), which {@link set} would keep twice. A long key is hashed as usual.
   */
  setShared(key: string, value: V): void {
    this.entries.set(key.length <= MAX_PLAIN_KEY_LENGTH ? key : boundedKey(key), value);
  }

  delete(key: string): void {
    this.entries.delete(boundedKey(key));
  }

  /**
   * Deletes every entry `doomed` picks (keys as stored: long ones hashed) and returns their
   * count. A full scan, for rare events (a logout), never for the request path.
   */
  deleteWhere(doomed: (value: V, storedKey: string) => boolean): number {
    const keys: string[] = [];
    for (const [key, value] of this.entries.entries()) if (doomed(value, key)) keys.push(key);
    for (const key of keys) this.entries.delete(key);
    return keys.length;
  }
}
