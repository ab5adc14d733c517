/**
 * Which client addresses own a cached Basic exchange of which user (both as limiter key ids),
 * counted per pair because a user may have several cached exchanges (two passwords during a
 * change, several spellings) owned by the same address. Bounded by the exchange cache: every
 * pair belongs to a cached entry and leaves with it.
 */
export class OwnerIndex {
  private readonly pairs = new Map<string, number>();

  get size(): number {
    return this.pairs.size;
  }

  /** Whether `address` owns any cached exchange of `user`: only there can a cache hit answer differently from a guess. */
  has(user: string, address: string): boolean {
    return this.pairs.has(pair(user, address));
  }

  add(user: string, addresses: readonly string[]): void {
    for (const address of addresses) {
      const key = pair(user, address);
      this.pairs.set(key, (this.pairs.get(key) ?? 0) + 1);
    }
  }

  remove(user: string, addresses: readonly string[]): void {
    for (const address of addresses) {
      const key = pair(user, address);
      const left = (this.pairs.get(key) ?? 0) - 1;
      if (left > 0) this.pairs.set(key, left);
      else this.pairs.delete(key);
    }
  }
}

const pair = (user: string, address: string): string => `${user}|${address}`;
