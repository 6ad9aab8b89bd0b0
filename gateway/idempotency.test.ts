import { describe, expect, it } from 'vitest';
import { createIdempotencyStore } from './idempotency.ts';

describe('idempotency store', () => {
  it('answers what was set until the TTL passes, then forgets it', () => {
    let now = 0;
    const s = createIdempotencyStore<string>({ maxEntries: 10, ttlMs: 1000, now: () => now });
    s.set('k', 'first answer');
    now = 1000;
    expect(s.get('k')).toBe('first answer');
    now = 1001;
    expect(s.get('k')).toBeUndefined();
    expect(s.size()).toBe(0);
  });

  it('keeps at most maxEntries, dropping the least recently set', () => {
    const s = createIdempotencyStore<number>({ maxEntries: 2, ttlMs: 60_000 });
    s.set('a', 1);
    s.set('b', 2);
    s.set('a', 3);
    s.set('c', 4);
    expect([s.get('a'), s.get('b'), s.get('c')]).toEqual([3, undefined, 4]);
    expect(s.size()).toBe(2);
  });
});
