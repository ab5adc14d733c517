import { createRequire, Module } from 'node:module';
import type * as NodeRedis from 'redis';

/**
 * Stands in for node-redis's `VerbatimString` (RESP3's `=` replies, built only for a caller that maps that reply type
 * to it): the same fields, without extending `String`. See {@link loadNodeRedis} for why.
 */
class VerbatimString {
  readonly value: string;

  constructor(
    readonly format: string,
    value: string,
  ) {
    this.value = String(value);
  }

  toString(): string {
    return this.value;
  }

  valueOf(): string {
    return this.value;
  }
}

/** The node-redis module that declares `class VerbatimString extends String`, from the `redis` package's point of view. */
const VERBATIM_MODULE = '@redis/client/dist/lib/RESP/verbatim-string.js';

let loaded: typeof NodeRedis | undefined;

/**
 * node-redis, loaded on first use: its modules take ≈ 5 MB of heap (measured under Node 24), which a single replica
 * without Redis (the default) would carry for nothing. It is a CommonJS package, so a synchronous require loads it
 * where the connection is made.
 *
 * One of its modules is replaced before it loads. `@redis/client` declares `class VerbatimString extends String`, and
 * declaring any subclass of `String` switches off, for the whole process and for good, one of V8's fast-path guards
 * (the "StringWrapperToPrimitive" protector, printed by `node --trace-protector-invalidation`). Measured through NGINX
 * (docs/speed.md, "The Redis store's 12 %"), that alone cost a replica 12 % of its cached decisions per second, with
 * or without Redis: it was the whole gap between the memory and the Redis session stores. The service speaks RESP2
 * and maps no reply to `VerbatimString`, so node-redis never builds one; the stand-in above keeps its fields in case it
 * ever does. When a node-redis release moves that file, the module loads unchanged (correct, only slower) and
 * test/cluster/redis-module.test.ts fails, so the upgrade is noticed.
 */
export function loadNodeRedis(): typeof NodeRedis {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  try {
    const fromRedis = createRequire(require.resolve('redis'));
    const path = fromRedis.resolve(VERBATIM_MODULE);
    if (require.cache[path] === undefined) {
      const standIn = new Module(path);
      standIn.filename = path;
      standIn.loaded = true;
      standIn.exports = { VerbatimString };
      require.cache[path] = standIn;
    }
  } catch {
    // Another node-redis layout: load it as it is (see above).
  }
  loaded = require('redis') as typeof NodeRedis;
  return loaded;
}
