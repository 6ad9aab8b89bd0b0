/**
 * MirrorMaker 2's checkpoints (pure): the offsets of an upstream site's
 * consumer groups, translated by MM2 into the copies at a downstream site.
 * MM2's MirrorCheckpointConnector writes them at the downstream site to
 * `<upstream>.checkpoints.internal`, in Kafka's protocol encoding:
 *
 *   key   = group STRING, topic STRING, partition INT32
 *   value = version INT16 (0), upstreamOffset INT64, offset INT64, metadata STRING
 *
 * where STRING is an INT16 byte length and UTF-8 bytes, all big-endian. The
 * topic is the copy's name at the downstream site (`<upstream>.<topic>`).
 */
export interface Checkpoint {
  group: string;
  /** The copy at the downstream site. */
  topic: string;
  partition: number;
  /** The group's committed offset at the upstream site. */
  upstreamOffset: number;
  /** Where the group resumes in the copy: never past the upstream position (conservative). */
  downstreamOffset: number;
  metadata: string;
}

export const checkpointsTopic = (upstream: string) => `${upstream}.checkpoints.internal`;

export class Mm2RecordDecodeError extends Error {}

/** Reads Kafka protocol fields (big-endian INT16/32/64, STRING = INT16 length + UTF-8). */
export class ProtocolReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number) {
    if (this.at + n > this.buf.length) throw new Mm2RecordDecodeError(`MM2 record ends early (byte ${this.at} of ${this.buf.length}, needs ${n} more)`);
  }
  int16() {
    this.need(2);
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32() {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  int64() {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new Mm2RecordDecodeError(`offset ${v} is out of range`);
    return Number(v);
  }
  string() {
    const n = this.int16();
    if (n < 0) throw new Mm2RecordDecodeError('null string in a checkpoint');
    this.need(n);
    const v = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return v;
  }
}

export function decodeCheckpoint(key: Buffer, value: Buffer): Checkpoint {
  const k = new ProtocolReader(key);
  const group = k.string();
  const topic = k.string();
  const partition = k.int32();
  const v = new ProtocolReader(value);
  const version = v.int16();
  if (version !== 0) throw new Mm2RecordDecodeError(`checkpoint value version ${version}; this fedgate reads version 0`);
  const upstreamOffset = v.int64();
  const downstreamOffset = v.int64();
  const metadata = v.string();
  return { group, topic, partition, upstreamOffset, downstreamOffset, metadata };
}

/** The latest checkpoint of every (group, topic, partition), in the order read. */
export function latestCheckpoints(records: Iterable<Checkpoint>): Checkpoint[] {
  const latest = new Map<string, Checkpoint>();
  for (const c of records) latest.set(`${c.group}\u0000${c.topic}\u0000${c.partition}`, c);
  return [...latest.values()];
}
