import { MemoryReplayGuard } from '../../src/logout/replay.js';

describe('MemoryReplayGuard.claimOnce', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('accepts a key once within its TTL, again after it', async () => {
    const guard = new MemoryReplayGuard(10, clock);
    expect(await guard.claimOnce('jti-1', 60_000)).toBe(true);
    expect(await guard.claimOnce('jti-1', 60_000)).toBe(false);
    expect(await guard.claimOnce('jti-2', 60_000)).toBe(true);
    now += 60_001;
    expect(await guard.claimOnce('jti-1', 60_000)).toBe(true);
  });

  it('holds at most maxEntries keys', async () => {
    const guard = new MemoryReplayGuard(3, clock);
    for (let i = 0; i < 10; i++) await guard.claimOnce(`k${i}`, 60_000);
    expect(guard.size).toBe(3);
    expect(await guard.claimOnce('k9', 60_000)).toBe(false);
  });
});
