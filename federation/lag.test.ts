import { describe, expect, it } from 'vitest';
import { percentile, summarizeLag } from './lag.ts';

describe('lag math', () => {
  it('sums end minus committed per topic, counting a partition with nothing committed from its start', () => {
    const s = summarizeLag([
      { topic: 't', partition: 0, end: 100, start: 0, position: 90 },
      { topic: 't', partition: 1, end: 50, start: 10, position: null },
      { topic: 'u', partition: 0, end: 5, start: 0, position: 5 },
    ]);
    expect(s).toEqual({ records: 50, partitions: 3, byTopic: { t: 50, u: 0 } });
  });
  it('never reports a committed offset below retention as lag beyond what is retained', () => {
    expect(summarizeLag([{ topic: 't', partition: 0, end: 100, start: 60, position: 10 }]).records).toBe(40);
  });
  it('takes nearest-rank percentiles', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([], 50)).toBeNull();
  });
});
