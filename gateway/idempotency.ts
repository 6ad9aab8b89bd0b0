/**
 * Remembers what was accepted, so a client that retries after a timeout does
 * not create a duplicate: event ids (per event) and Idempotency-Key values
 * (per request, with the answer to replay). Bounded LRU with a time to live.
 *
 * Held in the gateway's memory: it covers retries to the same gateway within
 * the TTL. Downstream effects are idempotent by event id in any case.
 */
export function createIdempotencyStore<V>(options: { maxEntries: number; ttlMs: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: V; at: number }>();
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
    set(key: string, value: V): void {
      entries.delete(key);
      entries.set(key, { value, at: now() });
      while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
    },
    size: () => entries.size,
  };
}
