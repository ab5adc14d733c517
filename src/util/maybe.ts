/** A value, or the promise of one: what a step returns when it is synchronous on a cache hit and asynchronous on a miss. */
export type Maybe<T> = T | Promise<T>;

/** Applies `next` to a value that may not be there yet, without an await when it is. */
export function andThen<T, U>(value: Maybe<T>, next: (resolved: T) => Maybe<U>): Maybe<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
