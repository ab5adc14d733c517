/**
 * Bounds for an `LRUCache` that holds at most `maxEntries` entries but allocates them as it
 * grows. lru-cache preallocates its index arrays for `max` entries at construction (about 28
 * bytes an entry: key and value slots, links, free list), so a rarely used store bounded at
 * 100,000 entries (logout revocations, replay claims) cost ≈ 2.8 MB while empty. Counting each
 * entry as size 1 against `maxSize` gives the same bound, evicting the least recently used
 * entry first, with arrays that grow on demand.
 *
 * For stores off the /auth hot path: the busy caches (decisions, identities) keep `max`, whose
 * typed-array links are the faster ones.
 * @param maxEntries most entries held (a positive integer)
 */
export function growingLruBounds(maxEntries: number): { maxSize: number; sizeCalculation: () => number } {
  return { maxSize: maxEntries, sizeCalculation: () => 1 };
}
