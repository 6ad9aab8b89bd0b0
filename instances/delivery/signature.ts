import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The webhook signature: `fedgate-signature: t=<unix seconds>,v1=<hex>`,
 * where hex = HMAC-SHA256(secret, `<t>.<raw body>`). During a secret
 * rotation the header carries one `v1=` per live secret (new first).
 *
 * The receiver's recipe (README, "Delivery"): take the raw body bytes as
 * received, parse t and every v1, refuse when |now − t| exceeds the
 * tolerance (a replayed old request), compute the HMAC with its secret and
 * compare in constant time with each v1. Then deduplicate on the
 * CloudEvent's `id`: delivery is at least once.
 */
export const SIGNATURE_HEADER = 'fedgate-signature';
/** How old a signature a receiver should accept, by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const mac = (secret: string, t: number, body: Buffer | string) => createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');

export function signatureHeader(secrets: readonly string[], body: Buffer | string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return [`t=${t}`, ...secrets.map((s) => `v1=${mac(s, t, body)}`)].join(',');
}

export type Verdict = { ok: true } | { ok: false; reason: 'malformed' | 'too-old' | 'mismatch' };

/** The recipe, as a receiver runs it. */
export function verifySignature(
  header: string | undefined,
  body: Buffer | string,
  secret: string,
  options: { nowMs?: number; toleranceSeconds?: number } = {},
): Verdict {
  const parts = (header ?? '').split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  const given = parts.filter(([k, v]) => k === 'v1' && v && /^[0-9a-f]{64}$/.test(v)).map(([, v]) => Buffer.from(v!, 'hex'));
  if (!Number.isSafeInteger(t) || given.length === 0) return { ok: false, reason: 'malformed' };
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'too-old' };
  const expected = Buffer.from(mac(secret, t, body), 'hex');
  return given.some((g) => timingSafeEqual(g, expected)) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
