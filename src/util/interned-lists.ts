/**
 * One shared, frozen array for each distinct list of strings seen (a token's groups), instead
 * of one array per cached identity. Thousands of tokens carry the same few group lists; each
 * copy costs an array, its backing store (V8 grows a pushed-to array to 17 slots) and its
 * strings, ≈ 250 bytes for a one-group list. Bounded: at most `maxLists` lists of at most
 * `maxChars` characters are kept (the table is emptied when full, so a stream of distinct lists
 * cannot grow it); a longer list gets an exact-size copy of its own.
 */
export class InternedLists {
  private readonly lists = new Map<string, readonly string[]>();

  constructor(
    private readonly maxLists = 256,
    private readonly maxChars = 2_048,
  ) {}

  /** Lists held (for tests). */
  get size(): number {
    return this.lists.size;
  }

  /** The shared list equal to `values` (same strings, same order); `values` itself is not kept. */
  intern(values: readonly string[]): readonly string[] {
    if (values.length === 0) return EMPTY;
    // JSON keeps the boundaries between values: ["a,b"] and ["a","b"] get different keys.
    const key = JSON.stringify(values);
    if (key.length > this.maxChars) return Object.freeze(values.slice());
    let shared = this.lists.get(key);
    if (shared === undefined) {
      if (this.lists.size >= this.maxLists) this.lists.clear();
      // Parsed back from the key: exact-size, and flat strings that keep no larger string alive.
      shared = Object.freeze(JSON.parse(key) as string[]);
      this.lists.set(key, shared);
    }
    return shared;
  }
}

const EMPTY: readonly string[] = Object.freeze([]);
