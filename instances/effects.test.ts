import { describe, expect, it } from 'vitest';
import type { ProductEvent } from '../contract/index.ts';
import { newestPerKey } from './effects.ts';

const ev = (id: string, time: string, productId = 'sku-1') => ({ id, time, subject: productId }) as ProductEvent;

describe('newest event per key (one row per key in a batch upsert)', () => {
  it('keeps each key’s newest event by time, comparing instants, not strings', () => {
    const rows = newestPerKey(
      [ev('a', '2026-11-26T10:00:00.000Z'), ev('b', '2026-11-26T11:30:00+02:00'), ev('c', '2026-11-26T09:59:00Z', 'sku-2')],
      (e) => e.subject,
      (e) => e.id,
    );
    // 11:30+02:00 is 09:30Z: older than a, although it sorts after it as text.
    expect(rows.sort()).toEqual(['a', 'c']);
  });

  it('breaks a tie of times by the larger id, as the database upsert does', () => {
    const t = '2026-11-26T10:00:00Z';
    expect(
      newestPerKey(
        [ev('evt-2', t), ev('evt-9', t), ev('evt-5', t)],
        (e) => e.subject,
        (e) => e.id,
      ),
    ).toEqual(['evt-9']);
  });
});
