/**
 * The position of a subscribe stream: the next offset of every partition it
 * reads, as `topic -> partition -> offset`. Each event's SSE id is the cursor
 * just after it, so a client that reconnects with `Last-Event-ID` resumes
 * exactly after the last event it received.
 */
export type Positions = Record<string, Record<string, number>>;

const PREFIX = 'c1.';
/** A cursor longer than this is refused (a stream reads at most a few hundred partitions). */
const MAX_CURSOR = 16_384;

export function encodeCursor(p: Positions): string {
  return PREFIX + Buffer.from(JSON.stringify(p)).toString('base64url');
}

/** The positions in a cursor; null when it is not one (the caller answers with a problem). */
export function decodeCursor(cursor: string): Positions | null {
  if (!cursor.startsWith(PREFIX) || cursor.length > MAX_CURSOR) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const out: Positions = {};
  for (const [topic, partitions] of Object.entries(value)) {
    if (typeof partitions !== 'object' || partitions === null || Array.isArray(partitions)) return null;
    out[topic] = {};
    for (const [p, offset] of Object.entries(partitions)) {
      if (!/^\d{1,4}$/.test(p) || !Number.isSafeInteger(offset) || (offset as number) < 0) return null;
      out[topic]![p] = offset as number;
    }
  }
  return out;
}

/**
 * Where to start each partition: the cursor's offset when it has one (raised
 * to the oldest offset still kept, which is a gap the caller reports), the
 * oldest offset for a partition the cursor's topic did not have yet, and the
 * live end for a topic the cursor does not name (a new filter starts now).
 */
export function startPositions(
  ends: Record<string, { partition: number; low: number; high: number }[]>,
  cursor: Positions | null,
): { start: Positions; gaps: { topic: string; partition: number; from: number; to: number }[] } {
  const start: Positions = {};
  const gaps: { topic: string; partition: number; from: number; to: number }[] = [];
  for (const [topic, partitions] of Object.entries(ends)) {
    start[topic] = {};
    const known = cursor?.[topic];
    for (const { partition, low, high } of partitions) {
      let at: number;
      if (!known) at = high;
      else if (known[partition] === undefined) at = low;
      else at = Math.min(high, known[partition]!);
      if (at < low) {
        gaps.push({ topic, partition, from: at, to: low });
        at = low;
      }
      start[topic]![partition] = at;
    }
  }
  return { start, gaps };
}
