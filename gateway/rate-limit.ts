/**
 * Per-publisher token buckets: each key (a token's issuer and subject) earns
 * `perSecond` events a second up to `burst`; a publish takes one token per
 * event, all or nothing. One publisher flooding is refused with a
 * Retry-After while every other publisher keeps its own bucket.
 */
export interface RateLimiter {
  take(key: string, events: number): { ok: true } | { ok: false; retryAfterSeconds: number };
}

export function createRateLimiter(options: { perSecond: number; burst: number; maxKeys?: number; now?: () => number }): RateLimiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key, events) {
      const t = now();
      const b = buckets.get(key) ?? { tokens: options.burst, at: t };
      b.tokens = Math.min(options.burst, b.tokens + ((t - b.at) / 1000) * options.perSecond);
      b.at = t;
      // Most recently used last: the map's first key is the one to drop when full.
      buckets.delete(key);
      buckets.set(key, b);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
      if (events <= b.tokens) {
        b.tokens -= events;
        return { ok: true };
      }
      const missing = Math.min(events, options.burst) - b.tokens;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(missing / options.perSecond)) };
    },
  };
}
