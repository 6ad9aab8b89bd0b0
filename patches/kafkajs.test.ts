import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * fedgate's patch of kafkajs's record encoder (patches/kafkajs+2.2.4.patch,
 * applied by `npm install`'s postinstall through patch-package): one
 * exact-size buffer per record, varints written in place, pooled unzeroed
 * encoder buffers, and a slicing-by-8 CRC32C. It must write exactly the
 * bytes kafkajs 2.2.4 wrote: the expected values below were produced by the
 * unpatched kafkajs 2.2.4. Every integration test then exercises the patched
 * producer against real brokers, MM2 and consumers.
 */
const require = createRequire(import.meta.url);
const ROOT = join(import.meta.dirname, '..');
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => { buffer: Buffer };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (b: object) => Promise<{ buffer: Buffer }>;
};
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const Encoder = require('kafkajs/src/protocol/encoder') as new () => {
  writeUVarInt(v: number): { buffer: Buffer };
  writeVarInt(v: number): { buffer: Buffer };
};
const Long = require('kafkajs/src/utils/long') as { fromString(s: string): unknown };
const RecordDecoder = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (
  d: unknown,
  context: object,
) => {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
  offset: string;
};
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => { readVarIntBytes(): Buffer };

const Runner = require('kafkajs/src/consumer/runner') as new (
  options: object,
) => {
  running: boolean;
  handleBatch(batch: object): Promise<void>;
  fetch(nodeId: number): Promise<unknown[]>;
  stop(): Promise<void>;
};

const PINNED = '2.2.4';

/** The textbook bitwise CRC32C (Castagnoli, reflected 0x82F63B78): the reference for the table-driven one. */
function crc32cReference(buf: Buffer): number {
  let crc = ~0;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('the kafkajs record encoder patch', () => {
  it('is for the installed kafkajs version, which package.json pins exactly, and is applied', () => {
    const installed = (JSON.parse(readFileSync(require.resolve('kafkajs/package.json'), 'utf8')) as { version: string }).version;
    const declared = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.kafkajs;
    expect(installed).toBe(PINNED);
    expect(declared).toBe(PINNED);
    expect(readdirSync(join(ROOT, 'patches')).filter((f) => f.endsWith('.patch'))).toEqual([`kafkajs+${PINNED}.patch`]);
    for (const file of [
      'src/protocol/encoder.js',
      'src/protocol/recordBatch/record/v0/index.js',
      'src/protocol/recordBatch/crc32C/crc32C.js',
      'src/consumer/runner.js',
    ]) {
      expect(readFileSync(join(require.resolve('kafkajs/package.json'), '..', file), 'utf8'), `${file} is not patched: run npm install`).toContain(
        'fedgate patch',
      );
    }
  });

  it('writes the bytes unpatched kafkajs 2.2.4 wrote, for strings, Buffers, nulls, header arrays, multi-byte UTF-8 and long timestamps', async () => {
    const cases = [
      {
        offsetDelta: 0,
        timestampDelta: 0,
        key: 'sku-1',
        value: '{"productId":"sku-1","price":{"currency":"EUR","minor":1999}}',
        headers: { ce_specversion: '1.0', ce_id: 'e-1', 'content-type': 'application/json' },
      },
      { offsetDelta: 300, timestampDelta: -5, key: null, value: Buffer.from([0, 1, 2, 255]), headers: { multi: ['a', Buffer.from('bé')] } },
      { offsetDelta: 70000, timestampDelta: 2 ** 40 + 7, key: 'ключ', value: null },
      { offsetDelta: 1, timestampDelta: Long.fromString('-9007199254740993'), key: '', value: '', headers: {} },
    ];
    const expected = [
      '86020000000a736b752d317a7b2270726f647563744964223a22736b752d31222c227072696365223a7b2263757272656e6379223a22455552222c226d696e6f72223a313939397d7d061c63655f7370656376657273696f6e06312e300a63655f696406652d3118636f6e74656e742d74797065206170706c69636174696f6e2f6a736f6e',
      '3a0009d8040108000102ff040a6d756c746902610a6d756c74690662c3a9',
      '2a008e8080808040e0c50810d0bad0bbd18ed1870100',
      '1a00818080808080802002000000',
    ];
    expect(cases.map((c) => Record(c).buffer.toString('hex'))).toEqual(expected);
    const batch = await RecordBatch({
      firstTimestamp: 1790000000000,
      maxTimestamp: 1790000000009,
      lastOffsetDelta: 1,
      records: [Record(cases[0]!), Record(cases[1]!)],
    });
    expect(batch.buffer.toString('hex')).toBe(
      `0000000000000000000000d40000000002f99734b8000000000001000001a0c4506c00000001a0c4506c09ffffffffffffffff00000000000000000002${expected[0]}${expected[1]}`,
    );
  });

  it("round-trips random records through kafkajs's own decoder", () => {
    for (let n = 0; n < 500; n++) {
      const key = n % 7 === 0 ? null : randomBytes(n % 50).toString('hex');
      const value = n % 5 === 0 ? randomBytes(n * 3) : `{"n":${n},"s":"${'é'.repeat(n % 40)}"}`;
      const headers = Object.fromEntries(Array.from({ length: n % 10 }, (_, i) => [`ce_h${i}`, i % 3 === 0 ? Buffer.from(`v${n}`) : `v${n}-${i}`]));
      const encoded = Record({ offsetDelta: n, timestampDelta: n * 1000, key, value, headers }).buffer;
      const decoded = RecordDecoder(new Decoder(new Decoder(encoded).readVarIntBytes()), { firstOffset: '0', firstTimestamp: '0', magicByte: 2 });
      expect(decoded.offset).toBe(String(n));
      expect(decoded.key === null ? null : decoded.key.toString()).toBe(key);
      expect(Buffer.isBuffer(value) ? decoded.value : decoded.value?.toString()).toEqual(value);
      expect(Object.fromEntries(Object.entries(decoded.headers).map(([k, v]) => [k, v.toString()]))).toEqual(
        Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.toString()])),
      );
    }
  });

  it('writes varints in place as the LEB128 zigzag Kafka reads', () => {
    const hex = (f: (e: InstanceType<typeof Encoder>) => { buffer: Buffer }) => f(new Encoder()).buffer.toString('hex');
    expect(hex((e) => e.writeUVarInt(0))).toBe('00');
    expect(hex((e) => e.writeUVarInt(127))).toBe('7f');
    expect(hex((e) => e.writeUVarInt(128))).toBe('8001');
    expect(hex((e) => e.writeUVarInt(300))).toBe('ac02');
    expect(hex((e) => e.writeVarInt(-1))).toBe('01');
    expect(hex((e) => e.writeVarInt(-64))).toBe('7f');
    expect(hex((e) => e.writeVarInt(2 ** 31 - 1))).toBe('feffffff0f');
  });

  it('computes CRC32C as the bitwise reference does, for every length class of the eight-byte loop', () => {
    expect(crc32C(Buffer.from('123456789')).toString(16)).toBe('e3069283');
    for (let length = 0; length < 80; length++) {
      const buf = randomBytes(length);
      expect(crc32C(buf)).toBe(crc32cReference(buf));
    }
    const big = randomBytes(100_003);
    expect(crc32C(big)).toBe(crc32cReference(big));
  });
});

/**
 * The offset-commit half of the patch (src/consumer/runner.js). Unpatched,
 * kafkajs 2.2.4 commits after every partition batch even when the consumer
 * set `autoCommitInterval` (kafkajs issue #759): at 20 events/s a site's
 * broker took ~38 OffsetCommit requests a second from one instance. Patched,
 * a consumer with an interval or threshold commits when that policy says so,
 * an idle one commits its tail on its next empty fetch, and `stop` commits
 * what is resolved before it leaves the group. A consumer with neither keeps
 * kafkajs's commit after every batch. The consumer group is a recording fake:
 * this is the runner's own decision logic; the integration tests run the
 * patched consumers against real brokers.
 */
describe('the kafkajs commit-policy patch', () => {
  function harness(policy: { autoCommitInterval: number | null; autoCommitThreshold: number | null }, autoCommit = true) {
    const calls: string[] = [];
    const group = {
      ...policy,
      groupId: 'g',
      memberId: 'm',
      getNodeIds: () => [],
      commitOffsets: async () => void calls.push('commit'),
      commitOffsetsIfNecessary: async () => void calls.push('commit-if-necessary'),
      heartbeat: async () => void calls.push('heartbeat'),
      resolveOffset: () => void calls.push('resolve'),
      hasSeekOffset: () => false,
      isPaused: () => false,
      fetch: async () => [],
      leave: async () => void calls.push('leave'),
    };
    const logger = { namespace: () => logger, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const runner = new Runner({
      logger,
      consumerGroup: group,
      instrumentationEmitter: { emit: () => {} },
      eachBatch: async () => void calls.push('eachBatch'),
      concurrency: 1,
      onCrash: () => {},
      autoCommit,
    });
    runner.running = true;
    return { runner, calls };
  }
  const batch = (messages: number) => ({
    topic: 't',
    partition: 0,
    highWatermark: '10',
    messages: Array.from({ length: messages }, (_, i) => ({ offset: String(i) })),
    isEmpty: () => messages === 0,
    isEmptyDueToFiltering: () => false,
    offsetLag: () => '0',
    offsetLagLow: () => '0',
    firstOffset: () => '0',
    lastOffset: () => String(messages - 1),
  });

  it('with an interval, a batch asks the interval policy instead of committing', async () => {
    const { runner, calls } = harness({ autoCommitInterval: 1000, autoCommitThreshold: null });
    await runner.handleBatch(batch(3));
    expect(calls).toEqual(['eachBatch', 'resolve', 'commit-if-necessary', 'heartbeat']);
  });

  it('with a threshold, likewise', async () => {
    const { runner, calls } = harness({ autoCommitInterval: null, autoCommitThreshold: 100 });
    await runner.handleBatch(batch(3));
    expect(calls).toContain('commit-if-necessary');
    expect(calls).not.toContain('commit');
  });

  it('with neither, every batch commits, as unpatched kafkajs does', async () => {
    const { runner, calls } = harness({ autoCommitInterval: null, autoCommitThreshold: null });
    await runner.handleBatch(batch(3));
    expect(calls).toEqual(['eachBatch', 'resolve', 'commit', 'heartbeat']);
  });

  it('an empty batch and an empty fetch commit the idle tail when the interval is up', async () => {
    const a = harness({ autoCommitInterval: 1000, autoCommitThreshold: null });
    await a.runner.handleBatch(batch(0));
    expect(a.calls).toEqual(['commit-if-necessary', 'heartbeat']);
    const b = harness({ autoCommitInterval: 1000, autoCommitThreshold: null });
    expect(await b.runner.fetch(1)).toEqual([]);
    expect(b.calls).toEqual(['commit-if-necessary', 'heartbeat']);
  });

  it('stop commits what was resolved, then leaves; without autoCommit it commits nothing', async () => {
    const a = harness({ autoCommitInterval: 1000, autoCommitThreshold: null });
    await a.runner.stop();
    expect(a.calls).toEqual(['commit', 'leave']);
    const b = harness({ autoCommitInterval: 1000, autoCommitThreshold: null }, false);
    await b.runner.stop();
    expect(b.calls).toEqual(['leave']);
  });

  it('a commit that fails at stop still leaves the group', async () => {
    const { runner, calls } = harness({ autoCommitInterval: 1000, autoCommitThreshold: null });
    (runner as unknown as { consumerGroup: { commitOffsets: () => Promise<void> } }).consumerGroup.commitOffsets = async () => {
      throw new Error('REBALANCE_IN_PROGRESS');
    };
    await runner.stop();
    expect(calls).toEqual(['leave']);
  });
});
