import type { Clock } from '../clock.js';
import type { RedisConnection } from '../cluster/redis.js';
import { randomId } from '../session/crypto.js';
import type { Attempt, FailureLimiter, LimitKey, Refusal } from './limiter.js';

export interface RedisLimiterOptions {
  windowMs: number;
  lockoutMs: number;
  /** An attempt never settled (a replica died mid-attempt) stops holding its key's budget after this long. */
  attemptTtlMs: number;
}

/*
 * Per key three Redis keys (`f:<id>:f` failures, `f:<id>:a` attempts in flight, `f:<id>:l` the
 * lockout), each expiring on its own. Every operation is one Lua script, so it is atomic across
 * replicas: reserving checks and takes a slot on every key or on none.
 * KEYS: per limit key, its three names. ARGV[1] now, ARGV[2] window, ARGV[3] lockout, ARGV[4]
 * attempt ttl, ARGV[5] attempt id (unique: also the failure's member), then per key: maxFailures,
 * forgetOnSuccess (1/0).
 */
const PRELUDE = `
local now, window, lockout, ttl, attempt = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local n = #KEYS / 3
local function prune(i)
  redis.call('ZREMRANGEBYSCORE', KEYS[3*i-2], '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', KEYS[3*i-1], '-inf', now)
end
local function addFailure(i)
  local f = KEYS[3*i-2]
  redis.call('ZADD', f, now, attempt)
  redis.call('PEXPIRE', f, window)
  if redis.call('ZCARD', f) >= tonumber(ARGV[4+2*i]) then
    redis.call('SET', KEYS[3*i], '1', 'PX', lockout)
    redis.call('DEL', f)
  end
end
`;

const SCRIPTS = {
  reserve: `${PRELUDE}
local waits, refused = {}, false
for i = 1, n do
  prune(i)
  local locked = redis.call('PTTL', KEYS[3*i])
  if locked > 0 then waits[i] = math.ceil(locked / 1000); refused = true
  elseif redis.call('ZCARD', KEYS[3*i-2]) + redis.call('ZCARD', KEYS[3*i-1]) >= tonumber(ARGV[4+2*i]) then waits[i] = 1; refused = true
  else waits[i] = 0 end
end
if refused then return waits end
for i = 1, n do
  redis.call('ZADD', KEYS[3*i-1], now + ttl, attempt)
  redis.call('PEXPIRE', KEYS[3*i-1], ttl)
end
return {}`,
  fail: `${PRELUDE}
for i = 1, n do
  prune(i)
  redis.call('ZREM', KEYS[3*i-1], attempt)
  addFailure(i)
end
return 0`,
  succeed: `${PRELUDE}
for i = 1, n do
  prune(i)
  redis.call('ZREM', KEYS[3*i-1], attempt)
  if ARGV[5+2*i] == '1' and redis.call('PTTL', KEYS[3*i]) <= 0 then redis.call('DEL', KEYS[3*i-2]) end
end
return 0`,
  cancel: `${PRELUDE}
for i = 1, n do redis.call('ZREM', KEYS[3*i-1], attempt) end
return 0`,
  charge: `${PRELUDE}
for i = 1, n do prune(i); addFailure(i) end
return 0`,
  retryAfter: `${PRELUDE}
local waits = {}
for i = 1, n do
  local locked = redis.call('PTTL', KEYS[3*i])
  waits[i] = locked > 0 and math.ceil(locked / 1000) or 0
end
return waits`,
} as const;

class RedisAttempt implements Attempt {
  settled = false;
  readonly id = randomId();
  constructor(readonly keys: readonly LimitKey[]) {}
}

/**
 * {@link FailureLimiter} shared by every replica through Redis: the same semantics as
 * {@link MemoryFailureLimiter} (sliding window of failures, attempts in flight reserved, lockout),
 * so N replicas together allow at most `maxFailures` per key. Key ids are already hashes
 * (limitKeyId): Redis holds no user name or address. Redis unavailable: `reserve` and
 * `retryAfter` reject with a 503 (fail closed: no password is tried unchecked); settling an
 * attempt then is logged and dropped (its slot expires after `attemptTtlMs`).
 */
export class RedisFailureLimiter implements FailureLimiter {
  constructor(
    private readonly redis: RedisConnection,
    private readonly options: RedisLimiterOptions,
    private readonly clock: Clock,
  ) {}

  async reserve(keys: readonly LimitKey[]): Promise<Attempt | Refusal> {
    const attempt = new RedisAttempt(keys);
    const waits = (await this.run('reserve', keys, attempt.id)) as number[];
    if (waits.length > 0) return { refused: true, retryAfterSeconds: waits.map(Number) };
    return attempt;
  }

  fail(attempt: Attempt): Promise<void> {
    return this.settle('fail', attempt);
  }

  succeed(attempt: Attempt): Promise<void> {
    return this.settle('succeed', attempt);
  }

  cancel(attempt: Attempt): Promise<void> {
    return this.settle('cancel', attempt);
  }

  async charge(keys: readonly LimitKey[]): Promise<void> {
    await this.run('charge', keys, randomId()).catch(() => undefined);
  }

  async retryAfter(keys: readonly LimitKey[]): Promise<readonly number[]> {
    return ((await this.run('retryAfter', keys, '')) as number[]).map(Number);
  }

  private async settle(op: 'fail' | 'succeed' | 'cancel', attempt: Attempt): Promise<void> {
    if (!(attempt instanceof RedisAttempt) || attempt.settled) return;
    attempt.settled = true;
    await this.run(op, attempt.keys, attempt.id).catch(() => undefined);
  }

  private async run(op: keyof typeof SCRIPTS, keys: readonly LimitKey[], attemptId: string): Promise<unknown> {
    const names = keys.flatMap((key) => {
      const base = this.redis.key(`f:${key.id}`);
      return [`${base}:f`, `${base}:a`, `${base}:l`];
    });
    const args = [
      String(this.clock()),
      String(this.options.windowMs),
      String(this.options.lockoutMs),
      String(this.options.attemptTtlMs),
      attemptId,
      ...keys.flatMap((key) => [String(key.maxFailures), key.forgetOnSuccess ? '1' : '0']),
    ];
    try {
      return await this.redis.client.eval(SCRIPTS[op], { keys: names, arguments: args });
    } catch (error) {
      throw this.redis.failure('limiter', error);
    }
  }
}
