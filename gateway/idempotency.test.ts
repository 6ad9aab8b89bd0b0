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

  it('stays exact at capacity over many sets: the last maxEntries keys set are the ones kept, re-sets counting as recent', () => {
    const s = createIdempotencyStore<number>({ maxEntries: 1000, ttlMs: 60_000 });
    for (let i = 0; i < 200_000; i++) {
      s.set(`k${i}`, i);
      // Every tenth set also refreshes an older key still held.
      if (i % 10 === 0 && i >= 500) s.set(`k${i - 500}`, i);
    }
    expect(s.size()).toBe(1000);
    const expected = new Map<string, number>();
    for (let i = 0; i < 200_000; i++) {
      expected.delete(`k${i}`);
      expected.set(`k${i}`, i);
      if (i % 10 === 0 && i >= 500) {
        expected.delete(`k${i - 500}`);
        expected.set(`k${i - 500}`, i);
      }
    }
    const last = [...expected].slice(-1000);
    for (const [key, value] of last) expect(s.get(key)).toBe(value);
    expect(s.get('k0')).toBeUndefined();
  });
});
