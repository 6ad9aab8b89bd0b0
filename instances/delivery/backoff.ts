import type { RetryPolicy } from '../../federation/index.ts';

/** The longest `Retry-After` honoured; a receiver asking for more is retried after this. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * The wait before attempt `attempt + 1`: "full jitter", a random wait up to
 * min(maxMs, baseMs·2^(attempt−1)), so retries of many events spread out;
 * a receiver's Retry-After, when given, is the wait instead (bounded).
 */
export function backoffMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, retryAfterMs));
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, attempt - 1));
  return Math.floor(random() * cap);
}

/** A Retry-After header (seconds, or an HTTP date) as milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
