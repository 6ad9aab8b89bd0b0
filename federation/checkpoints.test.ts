import { describe, expect, it } from 'vitest';
import { checkpointsTopic, decodeCheckpoint, latestCheckpoints, Mm2RecordDecodeError } from './checkpoints.ts';

/** Kafka protocol STRING: INT16 length, then UTF-8. */
const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length);
  return Buffer.concat([len, b]);
};
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};
const record = (group: string, topic: string, partition: number, upstream: number, downstream: number, metadata = '') => ({
  key: Buffer.concat([str(group), str(topic), int32(partition)]),
  value: Buffer.concat([int16(0), int64(upstream), int64(downstream), str(metadata)]),
});

describe('MM2 checkpoints', () => {
  it('names the topic after the upstream site', () => {
    expect(checkpointsTopic('cloud-a')).toBe('cloud-a.checkpoints.internal');
  });

  it('decodes the key and the version-0 value as MM2 writes them', () => {
    const r = record('fedgate.b.price-book', 'b.fed.price.eu', 2, 4_321_000_000, 4_320_999_990, 'm');
    expect(decodeCheckpoint(r.key, r.value)).toEqual({
      group: 'fedgate.b.price-book',
      topic: 'b.fed.price.eu',
      partition: 2,
      upstreamOffset: 4_321_000_000,
      downstreamOffset: 4_320_999_990,
      metadata: 'm',
    });
  });

  it('refuses a truncated record and an unknown version with a clear error', () => {
    const r = record('g', 't', 0, 5, 4);
    expect(() => decodeCheckpoint(r.key.subarray(0, 5), r.value)).toThrow(Mm2RecordDecodeError);
    expect(() => decodeCheckpoint(r.key, r.value.subarray(0, 12))).toThrow(/ends early/);
    const v1 = Buffer.from(r.value);
    v1.writeInt16BE(1, 0);
    expect(() => decodeCheckpoint(r.key, v1)).toThrow(/version 1/);
  });

  it('keeps the latest checkpoint of each group and partition', () => {
    const decode = (r: { key: Buffer; value: Buffer }) => decodeCheckpoint(r.key, r.value);
    const latest = latestCheckpoints([
      decode(record('g', 't', 0, 10, 9)),
      decode(record('g', 't', 1, 7, 7)),
      decode(record('g', 't', 0, 30, 28)),
      decode(record('h', 't', 0, 3, 3)),
    ]);
    expect(latest.map((c) => [c.group, c.partition, c.upstreamOffset, c.downstreamOffset])).toEqual([
      ['g', 0, 30, 28],
      ['g', 1, 7, 7],
      ['h', 0, 3, 3],
    ]);
  });
});
