import { type RetentionLoss, totalLost } from './offset-syncs.ts';
/**
 * Lag math (pure). A consumer group's lag on a partition is the end offset
 * minus its committed offset (a partition with nothing committed lags by
 * everything retained). MirrorMaker 2 has no lag metric: a flow's lag is the
 * same sum taken over the source topics, against the source offsets its
 * copies have reached.
 */
export interface PartitionOffsets {
  topic: string;
  partition: number;
  /** Log end offset (high watermark). */
  end: number;
  /** Earliest retained offset. */
  start: number;
  /** Committed / replicated-up-to offset; null or -1 when none. */
  position: number | null;
}

export interface LagSummary {
  records: number;
  partitions: number;
  byTopic: Record<string, number>;
}

export function summarizeLag(rows: PartitionOffsets[]): LagSummary {
  const byTopic: Record<string, number> = {};
  let records = 0;
  for (const r of rows) {
    const from = r.position === null || r.position < 0 ? r.start : Math.max(r.position, r.start);
    const lag = Math.max(0, r.end - from);
    byTopic[r.topic] = (byTopic[r.topic] ?? 0) + lag;
    records += lag;
  }
  return { records, partitions: rows.length, byTopic };
}

/** Percentile (nearest rank) of a list of numbers; null for an empty list. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** What a site reports for flow lag: end offsets per partition of its routed topics (local and copies), and the newest replicated heartbeat per upstream. */
export interface SiteOffsets {
  ends: Record<string, number[]>;
  /** Upstream site -> timestamp (ms) of the newest heartbeat copied here, or null. */
  heartbeats: Record<string, number | null>;
  /** Upstream site -> records of each topic and partition MM2 skipped because the source had deleted them (retention). */
  retentionLoss?: Record<string, RetentionLoss>;
}

export interface FlowLag {
  from: string;
  to: string;
  /** Records at the source not yet copied to the target. */
  records: number;
  /** How far behind the copy is, in seconds: 0 when nothing is pending, else the age of the newest copied heartbeat. */
  seconds: number;
  topics: Record<string, number>;
  /** Records this flow never copied because the source's retention deleted them first (never silent: status, dashboard, drills). */
  lostToRetention: number;
}

/**
 * MM2 has no lag metric, so fedgate computes one per flow: for every topic
 * the flow carries, per partition, source end offset minus the copy's end
 * offset (MM2 keeps partitions; a duplicate after a restart can only make the
 * copy longer, so negatives count as 0).
 */
export function flowLag(flow: { from: string; to: string; topics: string[] }, source: SiteOffsets, target: SiteOffsets, now: number): FlowLag {
  const topics: Record<string, number> = {};
  let records = 0;
  const lost = target.retentionLoss?.[flow.from];
  for (const topic of flow.topics) {
    const src = source.ends[topic] ?? [];
    const copy = target.ends[`${flow.from}.${topic}`] ?? [];
    let lag = 0;
    src.forEach((end, p) => {
      // Records lost to retention will never arrive: they are reported as lost, not as pending.
      lag += Math.max(0, end - (copy[p] ?? 0) - (lost?.[topic]?.[String(p)] ?? 0));
    });
    topics[topic] = lag;
    records += lag;
  }
  const beat = target.heartbeats[flow.from];
  const seconds = records === 0 ? 0 : beat ? Math.max(0, (now - beat) / 1000) : Number.POSITIVE_INFINITY;
  return {
    from: flow.from,
    to: flow.to,
    records,
    seconds: Number.isFinite(seconds) ? Math.round(seconds * 10) / 10 : -1,
    topics,
    lostToRetention: lost ? totalLost(lost) : 0,
  };
}
