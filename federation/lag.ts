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
