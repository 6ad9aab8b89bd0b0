import { Mm2RecordDecodeError, ProtocolReader } from './checkpoints.ts';

/**
 * MirrorMaker 2's offset syncs (pure), and the retention gaps they reveal.
 * With `offset-syncs.topic.location=target`, each site's MM2 node writes
 * `mm2-offset-syncs.<upstream>.internal` here: per upstream partition, pairs
 * (upstream offset, offset of its copy here), in Kafka's protocol encoding
 * (key: topic STRING, partition INT32; value: upstreamOffset INT64, offset INT64).
 *
 * MM2 writes a sync whenever the upstream offsets it copies skip, among other
 * times. Between two syncs of a partition, a copy that kept up advanced its
 * upstream and downstream offsets equally; after a restart MM2 re-copies, so
 * the downstream side advances more. When the upstream side advanced more,
 * MM2 jumped over records it never copied: the source's log start had passed
 * them (retention) and MM2's consumer reset to the earliest offset, which it
 * does silently. The difference is the records lost to retention.
 *
 * The upstream topics are written without transactions, so their offsets are
 * dense. With exactly-once MM2 the copies hold commit markers, which make the
 * downstream side advance by more than the records copied: a gap smaller than
 * the markers between two syncs is not seen, so the count is a lower bound.
 */
export interface OffsetSync {
  /** The upstream topic (its name at the source site). */
  topic: string;
  partition: number;
  upstreamOffset: number;
  downstreamOffset: number;
}

export const offsetSyncsTopic = (upstream: string) => `mm2-offset-syncs.${upstream}.internal`;

export function decodeOffsetSync(key: Buffer, value: Buffer): OffsetSync {
  const k = new ProtocolReader(key);
  const topic = k.string();
  const partition = k.int32();
  const v = new ProtocolReader(value);
  const upstreamOffset = v.int64();
  const downstreamOffset = v.int64();
  if (upstreamOffset < 0 || downstreamOffset < 0) throw new Mm2RecordDecodeError(`negative offset in an offset sync of ${topic}/${partition}`);
  return { topic, partition, upstreamOffset, downstreamOffset };
}

/** Records lost to retention in one flow, per upstream topic and partition (a JSON object key: the partition number as a string). */
export type RetentionLoss = Record<string, Record<string, number>>;

/**
 * Follows one flow's offset syncs in the order MM2 wrote them and counts the
 * upstream records it skipped. The first sync of a partition is a baseline
 * (nothing before it can be judged).
 */
export function createRetentionGapTracker() {
  const last = new Map<string, OffsetSync>();
  const lost: RetentionLoss = {};
  return {
    /** Feeds one sync; returns the records this step shows lost (0 for most). */
    add(sync: OffsetSync): number {
      const key = `${sync.topic}\u0000${sync.partition}`;
      const previous = last.get(key);
      last.set(key, sync);
      if (!previous) return 0;
      const gap = sync.upstreamOffset - previous.upstreamOffset - (sync.downstreamOffset - previous.downstreamOffset);
      // A downstream rewind (the copy was deleted and recreated) starts a new baseline.
      if (gap <= 0 || sync.downstreamOffset < previous.downstreamOffset) return 0;
      lost[sync.topic] ??= {};
      const byPartition = lost[sync.topic]!;
      byPartition[String(sync.partition)] = (byPartition[String(sync.partition)] ?? 0) + gap;
      return gap;
    },
    lost(): RetentionLoss {
      return structuredClone(lost);
    },
  };
}

/** The total of a loss report. */
export const totalLost = (loss: RetentionLoss): number =>
  Object.values(loss).reduce((sum, byPartition) => sum + Object.values(byPartition).reduce((a, b) => a + b, 0), 0);
