import { sql } from 'drizzle-orm';
import { type CountryData, type DiscountData, type PriceData, type ProductEvent, siteOfSource } from '../contract/index.ts';
import type { EventKind } from '../federation/index.ts';
import type { SiteDb } from './db/database.ts';
import { availability, discounts, priceBook } from './db/schema.ts';
import { type BulkColumn, bulkInsert, isoOrNull } from './db/unnest.ts';

/**
 * The downstream effects of product events on a site's database. Each is an
 * idempotent upsert, last writer wins by (event time, event id): applying the
 * same event twice, or an older event after a newer one, changes nothing.
 * Applied a batch at a time: one statement per batch, its rows as one array
 * parameter per column (instances/db/unnest.ts).
 */
export type ApplyEffects = (db: SiteDb, events: ProductEvent[]) => Promise<void>;

/** Within one statement a key may appear once: keep each key's newest event. */
export function newestPerKey<T>(events: ProductEvent[], key: (e: ProductEvent) => string, row: (e: ProductEvent) => T): T[] {
  const newest = new Map<string, ProductEvent>();
  for (const e of events) {
    const k = key(e);
    const current = newest.get(k);
    // Instants, not strings: "…+02:00" and "…Z" times do not sort as text.
    const t = Date.parse(e.time);
    const c = current ? Date.parse(current.time) : -Infinity;
    if (!current || t > c || (t === c && e.id > current.id)) newest.set(k, e);
  }
  return [...newest.values()].map(row);
}

type Row<T extends { $inferInsert: unknown }> = Required<T['$inferInsert']>;

const PRICE_COLUMNS: readonly BulkColumn<Omit<Row<typeof priceBook>, 'updatedAt'>>[] = [
  ['product_id', 'text', (r) => r.productId],
  ['region', 'text', (r) => r.region],
  ['currency', 'text', (r) => r.currency],
  ['amount_minor', 'bigint', (r) => r.amountMinor],
  ['event_id', 'text', (r) => r.eventId],
  ['event_time', 'timestamptz', (r) => isoOrNull(r.eventTime)],
  ['source_site', 'text', (r) => r.sourceSite],
];

const COUNTRY_COLUMNS: readonly BulkColumn<Row<typeof availability>>[] = [
  ['product_id', 'text', (r) => r.productId],
  ['country', 'text', (r) => r.country],
  ['available', 'boolean', (r) => r.available],
  ['reason', 'text', (r) => r.reason],
  ['event_id', 'text', (r) => r.eventId],
  ['event_time', 'timestamptz', (r) => isoOrNull(r.eventTime)],
  ['source_site', 'text', (r) => r.sourceSite],
];

const DISCOUNT_COLUMNS: readonly BulkColumn<Row<typeof discounts>>[] = [
  ['product_id', 'text', (r) => r.productId],
  ['region', 'text', (r) => r.region],
  ['discount_id', 'text', (r) => r.discountId],
  ['percent', 'text', (r) => r.percent],
  ['amount_off_minor', 'bigint', (r) => r.amountOffMinor],
  ['currency', 'text', (r) => r.currency],
  ['valid_from', 'timestamptz', (r) => isoOrNull(r.validFrom)],
  ['valid_to', 'timestamptz', (r) => isoOrNull(r.validTo)],
  ['active', 'boolean', (r) => r.active],
  ['event_id', 'text', (r) => r.eventId],
  ['event_time', 'timestamptz', (r) => isoOrNull(r.eventTime)],
  ['source_site', 'text', (r) => r.sourceSite],
];

/**
 * One upsert for the batch (instances/db/unnest.ts): on a key already there,
 * every other column takes the incoming row's value, but only when that row
 * is newer by (event time, event id).
 */
function upsertNewest<R>(
  db: SiteDb,
  table: typeof priceBook | typeof availability | typeof discounts,
  key: readonly string[],
  columns: readonly BulkColumn<R>[],
  rows: readonly R[],
  alsoSet: readonly string[] = [],
) {
  const set = [
    ...columns
      .map(([name]) => name)
      .filter((name) => !key.includes(name))
      .map((name) => `"${name}" = excluded."${name}"`),
    ...alsoSet,
  ];
  return db.execute(
    bulkInsert(
      table,
      columns,
      rows,
      sql`ON CONFLICT (${sql.raw(key.join(', '))}) DO UPDATE SET ${sql.raw(set.join(', '))}
        WHERE (excluded.event_time, excluded.event_id) > (${table.eventTime}, ${table.eventId})`,
    ),
  );
}

const applyPrices: ApplyEffects = async (db, events) => {
  const rows = newestPerKey(
    events,
    (e) => `${e.subject}\u0001${(e.data as PriceData).region}`,
    (e) => {
      const d = e.data as PriceData;
      return {
        productId: d.productId,
        region: d.region,
        currency: d.price.currency,
        amountMinor: d.price.minor,
        eventId: e.id,
        eventTime: new Date(e.time),
        sourceSite: siteOfSource(e.source) ?? e.source,
      };
    },
  );
  if (rows.length === 0) return;
  await upsertNewest(db, priceBook, ['product_id', 'region'], PRICE_COLUMNS, rows, ['updated_at = now()']);
};

const applyCountries: ApplyEffects = async (db, events) => {
  const rows = newestPerKey(
    events,
    (e) => `${e.subject}\u0001${(e.data as CountryData).country}`,
    (e) => {
      const d = e.data as CountryData;
      return {
        productId: d.productId,
        country: d.country,
        available: d.available,
        reason: d.reason ?? null,
        eventId: e.id,
        eventTime: new Date(e.time),
        sourceSite: siteOfSource(e.source) ?? e.source,
      };
    },
  );
  if (rows.length === 0) return;
  await upsertNewest(db, availability, ['product_id', 'country'], COUNTRY_COLUMNS, rows);
};

const applyDiscounts: ApplyEffects = async (db, events) => {
  const rows = newestPerKey(
    events,
    (e) => {
      const d = e.data as DiscountData;
      return `${d.productId}\u0001${d.region ?? '*'}\u0001${d.discountId}`;
    },
    (e) => {
      const d = e.data as DiscountData;
      return {
        productId: d.productId,
        region: d.region ?? '*',
        discountId: d.discountId,
        percent: d.percent ?? null,
        amountOffMinor: d.amountOff?.minor ?? null,
        currency: d.amountOff?.currency ?? null,
        validFrom: d.validFrom ? new Date(d.validFrom) : null,
        validTo: d.validTo ? new Date(d.validTo) : null,
        active: d.active,
        eventId: e.id,
        eventTime: new Date(e.time),
        sourceSite: siteOfSource(e.source) ?? e.source,
      };
    },
  );
  if (rows.length === 0) return;
  await upsertNewest(db, discounts, ['product_id', 'region', 'discount_id'], DISCOUNT_COLUMNS, rows);
};

export const EFFECTS: Record<EventKind, ApplyEffects> = { price: applyPrices, country: applyCountries, discount: applyDiscounts };
