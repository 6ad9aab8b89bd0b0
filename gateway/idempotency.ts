/**
 * Remembers what was accepted, so a client that retries after a timeout does
 * not create a duplicate: event ids (per event) and Idempotency-Key values
 * (per request, with the answer to replay). Bounded LRU with a time to live.
 *
 * This is the in-memory index; durable-window.ts keeps it in the site's
 * `site.idempotency` topic, so it survives a restart and is shared by the
 * site's gateways. Downstream effects are idempotent by event id in any case.
 */
export function createIdempotencyStore<V>(options: { maxEntries: number; ttlMs: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: V; at: number; seq: number }>();
  // The order of sets, oldest first, as (key, seq) pairs from `head` on; a pair whose seq is no longer its key's is stale.
  // Evicting through the Map's own iterator instead (keys().next()) rescans every deleted slot still at the front
  // of V8's hash table: at 500,000 entries each set took 40 µs and growing (README, Performance).
  let keys: string[] = [];
  let seqs: number[] = [];
  let head = 0;
  let seq = 0;
  function compact(): void {
    keys = [];
    seqs = [];
    head = 0;
    for (const [key, e] of entries) {
      keys.push(key);
      seqs.push(e.seq);
    }
  }
  return {
    get(key: string): V | undefined {
      const e = entries.get(key);
      if (!e) return undefined;
      if (now() - e.at > options.ttlMs) {
        entries.delete(key);
        return undefined;
      }
      return e.value;
    },
    /** `at`: when the answer was first given (a record read back from the window keeps its own time). */
    set(key: string, value: V, at = now()): void {
      if (now() - at > options.ttlMs) return;
      entries.delete(key);
      entries.set(key, { value, at, seq: ++seq });
      keys.push(key);
      seqs.push(seq);
      while (entries.size > options.maxEntries && head < keys.length) {
        const k = keys[head]!;
        const s = seqs[head]!;
        head++;
        if (entries.get(k)?.seq === s) entries.delete(k);
      }
      // Amortized O(1) per set: the consumed front is cut off in one copy, and when stale pairs (keys set again)
      // outnumber the live ones the queue is rebuilt from the entries.
      if (keys.length - head > 2 * entries.size + 1024) compact();
      else if (head > 65_536) {
        keys = keys.slice(head);
        seqs = seqs.slice(head);
        head = 0;
      }
    },
    size: () => entries.size,
  };
}
