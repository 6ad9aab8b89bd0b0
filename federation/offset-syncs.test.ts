import { describe, expect, it } from 'vitest';
import { Mm2RecordDecodeError } from './checkpoints.ts';
import { createRetentionGapTracker, decodeOffsetSync, offsetSyncsTopic, totalLost } from './offset-syncs.ts';

const encode = (topic: string, partition: number, upstream: number, downstream: number) => {
  const name = Buffer.from(topic, 'utf8');
  const key = Buffer.alloc(2 + name.length + 4);
  key.writeInt16BE(name.length, 0);
  name.copy(key, 2);
  key.writeInt32BE(partition, 2 + name.length);
  const value = Buffer.alloc(16);
  value.writeBigInt64BE(BigInt(upstream), 0);
  value.writeBigInt64BE(BigInt(downstream), 8);
  return { key, value };
};
const sync = (partition: number, upstreamOffset: number, downstreamOffset: number) => ({ topic: 'fed.price.us', partition, upstreamOffset, downstreamOffset });

describe('MM2 offset syncs', () => {
  it('names the topic after the upstream site and decodes what MM2 writes', () => {
    expect(offsetSyncsTopic('a')).toBe('mm2-offset-syncs.a.internal');
    const r = encode('fed.price.us', 2, 1200, 1190);
    expect(decodeOffsetSync(r.key, r.value)).toEqual(sync(2, 1200, 1190));
    expect(() => decodeOffsetSync(r.key, r.value.subarray(0, 9))).toThrow(Mm2RecordDecodeError);
  });

  it('sees no loss while the copy keeps up, nor after a restart that copies again', () => {
    const t = createRetentionGapTracker();
    for (const s of [sync(0, 0, 0), sync(0, 10, 10), sync(0, 20, 20)]) expect(t.add(s)).toBe(0);
    // Killed after copying up to 27 (copy end 28), restarted from its flushed offset 15: copies 15.. again.
    expect(t.add(sync(0, 15, 28))).toBe(0);
    expect(t.add(sync(0, 25, 38))).toBe(0);
    expect(totalLost(t.lost())).toBe(0);
  });

  it('counts the records MM2 jumped over when the source log start passed them', () => {
    const t = createRetentionGapTracker();
    t.add(sync(0, 0, 0));
    t.add(sync(0, 10, 10));
    // Copied up to 14 (copy end 15); the source then deleted everything below 215: the next copy is 215 -> 15.
    expect(t.add(sync(0, 215, 15))).toBe(200);
    t.add(sync(1, 0, 0));
    // A restart (copied up to 7, resumes at 5) combined with retention up to 40: 8..39 lost.
    expect(t.add(sync(1, 40, 8))).toBe(32);
    expect(t.lost()).toEqual({ 'fed.price.us': { 0: 200, 1: 32 } });
    expect(totalLost(t.lost())).toBe(232);
  });

  it('starts a new baseline when the copy was recreated (its offsets went back)', () => {
    const t = createRetentionGapTracker();
    t.add(sync(0, 0, 0));
    t.add(sync(0, 500, 500));
    expect(t.add(sync(0, 900, 0))).toBe(0);
    expect(t.add(sync(0, 910, 10))).toBe(0);
  });
});
