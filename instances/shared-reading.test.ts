import { describe, expect, it } from 'vitest';
import { createSharedReading } from './shared-reading.ts';

function counter() {
  let calls = 0;
  let fail = false;
  const pending: Array<() => void> = [];
  return {
    get calls() {
      return calls;
    },
    failNext() {
      fail = true;
    },
    /** A reading that resolves when `settle()` is called. */
    read: () => {
      calls++;
      const n = calls;
      const shouldFail = fail;
      fail = false;
      return new Promise<number>((resolve, reject) => pending.push(() => (shouldFail ? reject(new Error('broker down')) : resolve(n))));
    },
    settle() {
      for (const p of pending.splice(0)) p();
    },
  };
}

describe('createSharedReading', () => {
  it('lets concurrent callers share one reading', async () => {
    const c = counter();
    const t = 1000;
    const get = createSharedReading(c.read, { freshMs: 1000, staleMs: 5000, now: () => t });
    const a = get();
    const b = get();
    c.settle();
    expect(await a).toEqual({ value: 1, at: 1000 });
    expect(await b).toEqual({ value: 1, at: 1000 });
    expect(c.calls).toBe(1);
  });

  it('reuses a fresh reading, serves a stale one while refreshing, and waits when too old', async () => {
    const c = counter();
    let t = 0;
    const get = createSharedReading(c.read, { freshMs: 1000, staleMs: 5000, now: () => t });
    const first = get();
    c.settle();
    await first;

    t = 999;
    expect((await get()).value).toBe(1);
    expect(c.calls).toBe(1);

    t = 2000; // stale: answered at once with the old reading, a new one starts
    expect((await get()).value).toBe(1);
    expect(c.calls).toBe(2);
    c.settle();
    await new Promise((r) => setImmediate(r));
    expect(await get()).toEqual({ value: 2, at: 2000 });

    t = 2000 + 5000; // too old: the caller waits for a new reading
    const waited = get();
    expect(c.calls).toBe(3);
    c.settle();
    expect(await waited).toEqual({ value: 3, at: 7000 });
  });

  it('does not cache a failure, and keeps the last good reading through a failed refresh', async () => {
    const c = counter();
    let t = 0;
    const get = createSharedReading(c.read, { freshMs: 1000, staleMs: 5000, now: () => t });
    c.failNext();
    const failed = get();
    c.settle();
    await expect(failed).rejects.toThrow('broker down');

    const ok = get();
    expect(c.calls).toBe(2);
    c.settle();
    expect((await ok).value).toBe(2);

    t = 1500;
    c.failNext();
    expect((await get()).value).toBe(2); // stale, refresh starts and fails
    c.settle();
    await new Promise((r) => setImmediate(r));
    t = 1600;
    expect((await get()).value).toBe(2); // still the last good one, another refresh starts
    expect(c.calls).toBe(4);
  });
});
