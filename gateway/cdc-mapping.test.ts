import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, PublishInputSchema } from '../contract/index.ts';
import { cdcEventId, mapChange, trimDecimal } from './cdc-mapping.ts';

const change = (op: string, row: Record<string, unknown>, lsn = 0x1_2345_6789, tsMs = 1_764_979_200_000) =>
  Buffer.from(JSON.stringify({ op, before: op === 'd' ? row : null, after: op === 'd' ? null : row, source: { lsn, ts_ms: tsMs, table: 'x' } }));
const key = (k: Record<string, unknown>) => Buffer.from(JSON.stringify(k));

describe('Debezium change → publish input', () => {
  it('maps a price row, trimming the column scale, with the commit time and an id from the LSN and key', () => {
    const k = { product_id: 'P1', region: 'eu' };
    const out = mapChange('pis.public.prices', key(k), change('u', { ...k, currency: 'EUR', amount: '19.9000' }));
    expect(out).toEqual({
      kind: 'event',
      id: cdcEventId('prices', 0x1_2345_6789, k),
      productId: 'P1',
      input: {
        type: EVENT_TYPES.price,
        id: cdcEventId('prices', 0x1_2345_6789, k),
        time: '2025-12-06T00:00:00.000Z',
        data: { productId: 'P1', region: 'eu', price: { currency: 'EUR', amount: '19.9' } },
      },
    });
    expect(PublishInputSchema.safeParse(out.kind === 'event' && out.input).success).toBe(true);
  });

  it('gives a change sent again the same id, and ids of one row that sort in LSN order', () => {
    const k = { product_id: 'P1', region: 'eu' };
    const a = cdcEventId('prices', 0xff, k);
    expect(cdcEventId('prices', 0xff, { product_id: 'P1', region: 'eu' })).toBe(a);
    expect(cdcEventId('prices', 0x100, k) > a).toBe(true);
    expect(cdcEventId('discounts', 0xff, k)).not.toBe(a);
    expect(a).toMatch(/^pis-00000000000000ff-[0-9a-f]{16}$/);
  });

  it('maps deletes: a discount becomes inactive, a country unavailable, and a price is refused with the reason', () => {
    const d = mapChange(
      'pis.public.discounts',
      key({ product_id: 'P1', discount_id: 'D1' }),
      change('d', { product_id: 'P1', discount_id: 'D1', region: 'us', percent: '10.00', amount_off: null, currency: null, active: true }),
    );
    expect(d.kind === 'event' && d.input.data).toEqual({ productId: 'P1', discountId: 'D1', region: 'us', percent: '10', active: false });
    const c = mapChange(
      'pis.public.availability',
      key({ product_id: 'P1', country: 'DE' }),
      change('d', { product_id: 'P1', country: 'DE', available: true, reason: null }),
    );
    expect(c.kind === 'event' && c.input.data).toEqual({ productId: 'P1', country: 'DE', available: false, reason: 'removed from the PIS' });
    const p = mapChange(
      'pis.public.prices',
      key({ product_id: 'P1', region: 'eu' }),
      change('d', { product_id: 'P1', region: 'eu', currency: 'EUR', amount: '1.0000' }),
    );
    expect(p).toMatchObject({ kind: 'invalid', productId: 'P1', reason: expect.stringMatching(/price row was deleted/) });
  });

  it('skips tombstones and truncates, and refuses what is not a row change', () => {
    expect(mapChange('pis.public.prices', key({ product_id: 'P1' }), null)).toEqual({ kind: 'skip' });
    expect(mapChange('pis.public.prices', null, Buffer.from(JSON.stringify({ op: 't', source: { lsn: 1, ts_ms: 1 } })))).toEqual({ kind: 'skip' });
    expect(mapChange('pis.public.prices', null, Buffer.from('{oops'))).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/not JSON/) });
    expect(mapChange('pis.public.prices', null, Buffer.from('{"op":"c","after":{}}'))).toMatchObject({
      kind: 'invalid',
      reason: expect.stringMatching(/not a Debezium row change/),
    });
    expect(mapChange('pis.public.other', null, change('c', {}))).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/not a captured PIS table/) });
  });

  it('trims decimals to their significant digits', () => {
    expect(['19.9900', '20.0000', '0.0000', '7', '0.5000'].map(trimDecimal)).toEqual(['19.99', '20', '0', '7', '0.5']);
  });
});
