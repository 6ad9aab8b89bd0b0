import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProductEvent } from '../contract/index.ts';
import { type Database, openDatabase } from './db/database.ts';
import { availability, discounts, priceBook } from './db/schema.ts';
import { EFFECTS } from './effects.ts';

/** The effects' upserts on a real (embedded) PostgreSQL: PGlite in memory. Last writer wins by (event time, event id). */
describe('effects, applied with one unnest upsert per batch', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://', schemaName: 'unused' });
  });
  afterAll(async () => {
    await database?.close();
  });

  const ev = (id: string, time: string, type: string, data: Record<string, unknown>) =>
    ({ id, time, type, subject: data.productId, source: '/fedgate/sites/a', data }) as unknown as ProductEvent;
  const price = (id: string, time: string, minor: number) =>
    ev(id, time, 'com.fedgate.pim.price.updated', { productId: 'sku-1', region: 'eu', price: { currency: 'EUR', minor } });

  it('keeps the newest price: an older event or the same one again changes nothing', async () => {
    await EFFECTS.price(database.db, [price('e2', '2026-11-26T10:00:00Z', 200)]);
    await EFFECTS.price(database.db, [price('e1', '2026-11-26T09:00:00Z', 100)]);
    await EFFECTS.price(database.db, [price('e2', '2026-11-26T10:00:00Z', 200)]);
    let rows = await database.db.select().from(priceBook);
    expect(rows.map((r) => [r.productId, r.region, r.currency, r.amountMinor, r.eventId, r.eventTime.toISOString(), r.sourceSite])).toEqual([
      ['sku-1', 'eu', 'EUR', 200, 'e2', '2026-11-26T10:00:00.000Z', 'a'],
    ]);
    // A tie on time goes to the larger id; a newer time wins.
    await EFFECTS.price(database.db, [price('e3', '2026-11-26T10:00:00Z', 300), price('e0', '2026-11-26T11:00:00+02:00', 50)]);
    rows = await database.db.select().from(priceBook);
    expect(rows.map((r) => [r.eventId, r.amountMinor])).toEqual([['e3', 300]]);
  });

  it('writes availability and discounts with their nulls, newest first', async () => {
    await EFFECTS.country(database.db, [
      ev('c1', '2026-11-26T10:00:00Z', 'com.fedgate.pim.country.updated', { productId: 'sku-1', country: 'DE', available: false, reason: 'recall' }),
      ev('c2', '2026-11-26T09:00:00Z', 'com.fedgate.pim.country.updated', { productId: 'sku-1', country: 'JP', available: true }),
    ]);
    const countries = await database.db.select().from(availability);
    expect(countries.map((r) => [r.country, r.available, r.reason, r.eventId]).sort()).toEqual([
      ['DE', false, 'recall', 'c1'],
      ['JP', true, null, 'c2'],
    ]);
    await EFFECTS.discount(database.db, [
      ev('d1', '2026-11-26T10:00:00Z', 'com.fedgate.pim.discount.updated', {
        productId: 'sku-1',
        discountId: 'promo-1',
        percent: '15',
        validFrom: '2026-12-01T00:00:00Z',
        active: true,
      }),
      ev('d2', '2026-11-26T10:00:00Z', 'com.fedgate.pim.discount.updated', {
        productId: 'sku-1',
        region: 'eu',
        discountId: 'promo-2',
        amountOff: { currency: 'EUR', minor: 500 },
        active: false,
      }),
    ]);
    const rows = await database.db.select().from(discounts);
    expect(
      rows.map((r) => [r.region, r.discountId, r.percent, r.amountOffMinor, r.currency, r.validFrom?.toISOString() ?? null, r.validTo, r.active]).sort(),
    ).toEqual([
      ['*', 'promo-1', '15', null, null, '2026-12-01T00:00:00.000Z', null, true],
      ['eu', 'promo-2', null, 500, 'EUR', null, null, false],
    ]);
  });
});
