import { describe, expect, it } from 'vitest';
import { createBatcher, OverloadedError } from './batcher.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('batcher', () => {
  it('gathers the requests of one tick into one send, and resolves each when it is acknowledged', async () => {
    const sends: number[][] = [];
    const b = createBatcher<number>({ send: async (items) => void sends.push(items), maxBatch: 100, maxQueued: 1000 });
    await Promise.all([b.submit([1, 2]), b.submit([3]), b.submit([4, 5])]);
    expect(sends).toEqual([[1, 2, 3, 4, 5]]);
    expect(b.load()).toEqual({ queued: 0, inFlight: 0 });
  });

  it('never splits a request, and starts a new batch when the next request would pass maxBatch', async () => {
    const sends: number[][] = [];
    const b = createBatcher<number>({ send: async (items) => void sends.push(items), maxBatch: 3, maxQueued: 1000, concurrency: 1 });
    await Promise.all([b.submit([1, 2]), b.submit([3, 4]), b.submit([5])]);
    expect(sends).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
  });

  it('queues while sends are in flight (group commit), at most `concurrency` at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sends: number[][] = [];
    let inFlight = 0;
    let most = 0;
    const b = createBatcher<number>({
      async send(items) {
        inFlight++;
        most = Math.max(most, inFlight);
        sends.push(items);
        await gate;
        inFlight--;
      },
      maxBatch: 100,
      maxQueued: 1000,
      concurrency: 1,
    });
    const first = b.submit([1]);
    await tick();
    const rest = [b.submit([2]), b.submit([3])];
    await tick();
    expect(b.load()).toEqual({ queued: 2, inFlight: 1 });
    release();
    await Promise.all([first, ...rest]);
    expect(sends).toEqual([[1], [2, 3]]);
    expect(most).toBe(1);
  });

  it('rejects every request of a failed send with its error', async () => {
    const b = createBatcher<number>({
      send: async () => {
        throw new Error('broker down');
      },
      maxBatch: 100,
      maxQueued: 1000,
    });
    const results = await Promise.allSettled([b.submit([1]), b.submit([2])]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'))).toEqual(['broker down', 'broker down']);
  });

  it('refuses at once what would pass maxQueued (the caller answers 429), and takes requests again once drained', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = createBatcher<number>({ send: () => gate, maxBatch: 100, maxQueued: 3 });
    const held = b.submit([1, 2, 3]);
    await expect(b.submit([4])).rejects.toBeInstanceOf(OverloadedError);
    release();
    await held;
    await expect(b.submit([4])).resolves.toBeUndefined();
  });
});
