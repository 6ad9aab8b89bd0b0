import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.ts';

describe('per-publisher rate limit', () => {
  it('lets a publisher use its burst, then refuses with when to come back, while another publisher is unaffected', () => {
    let now = 0;
    const limit = createRateLimiter({ perSecond: 10, burst: 20, now: () => now });
    expect(limit.take('a', 15).ok).toBe(true);
    expect(limit.take('a', 5).ok).toBe(true);
    expect(limit.take('a', 5)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limit.take('b', 20).ok).toBe(true);
    now = 500;
    expect(limit.take('a', 5).ok).toBe(true);
    expect(limit.take('a', 1).ok).toBe(false);
  });

  it('refuses a request all or nothing, and never earns above the burst', () => {
    let now = 0;
    const limit = createRateLimiter({ perSecond: 10, burst: 20, now: () => now });
    expect(limit.take('a', 25)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limit.take('a', 20).ok).toBe(true);
    now = 60_000;
    expect(limit.take('a', 21).ok).toBe(false);
    expect(limit.take('a', 20).ok).toBe(true);
  });
});
