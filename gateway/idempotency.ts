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
    /** `at`: when the answer was first given (a record read back from the window keeps its own time). */
    set(key: string, value: V, at = now()): void {
      if (now() - at > options.ttlMs) return;
      entries.delete(key);
      entries.set(key, { value, at });
      while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
    },
    size: () => entries.size,
  };
}
