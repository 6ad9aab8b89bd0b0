import { sql } from 'drizzle-orm';
import { type CountryData, type DiscountData, type PriceData, type ProductEvent, siteOfSource } from '../contract/index.ts';
import type { EventKind } from '../federation/index.ts';
import type { SiteDb } from './db/database.ts';
import { availability, discounts, priceBook } from './db/schema.ts';
import { isoOrNull, unnestRows } from './db/unnest.ts';

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

const newer = (table: { eventTime: unknown; eventId: unknown }) => sql`(excluded.event_time, excluded.event_id) > (${table.eventTime}, ${table.eventId})`;

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
  await db.execute(sql`
    INSERT INTO ${priceBook} (product_id, region, currency, amount_minor, event_id, event_time, source_site)
    ${unnestRows([
      { type: 'text', values: rows.map((r) => r.productId) },
      { type: 'text', values: rows.map((r) => r.region) },
      { type: 'text', values: rows.map((r) => r.currency) },
      { type: 'bigint', values: rows.map((r) => r.amountMinor) },
      { type: 'text', values: rows.map((r) => r.eventId) },
      { type: 'timestamptz', values: rows.map((r) => isoOrNull(r.eventTime)) },
      { type: 'text', values: rows.map((r) => r.sourceSite) },
    ])}
    ON CONFLICT (product_id, region) DO UPDATE SET
      currency = excluded.currency, amount_minor = excluded.amount_minor, event_id = excluded.event_id,
      event_time = excluded.event_time, source_site = excluded.source_site, updated_at = now()
    WHERE ${newer(priceBook)}`);
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
  await db.execute(sql`
    INSERT INTO ${availability} (product_id, country, available, reason, event_id, event_time, source_site)
    ${unnestRows([
      { type: 'text', values: rows.map((r) => r.productId) },
      { type: 'text', values: rows.map((r) => r.country) },
      { type: 'boolean', values: rows.map((r) => r.available) },
      { type: 'text', values: rows.map((r) => r.reason) },
      { type: 'text', values: rows.map((r) => r.eventId) },
      { type: 'timestamptz', values: rows.map((r) => isoOrNull(r.eventTime)) },
      { type: 'text', values: rows.map((r) => r.sourceSite) },
    ])}
    ON CONFLICT (product_id, country) DO UPDATE SET
      available = excluded.available, reason = excluded.reason, event_id = excluded.event_id,
      event_time = excluded.event_time, source_site = excluded.source_site
    WHERE ${newer(availability)}`);
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
  await db.execute(sql`
    INSERT INTO ${discounts}
      (product_id, region, discount_id, percent, amount_off_minor, currency, valid_from, valid_to, active, event_id, event_time, source_site)
    ${unnestRows([
      { type: 'text', values: rows.map((r) => r.productId) },
      { type: 'text', values: rows.map((r) => r.region) },
      { type: 'text', values: rows.map((r) => r.discountId) },
      { type: 'text', values: rows.map((r) => r.percent) },
      { type: 'bigint', values: rows.map((r) => r.amountOffMinor) },
      { type: 'text', values: rows.map((r) => r.currency) },
      { type: 'timestamptz', values: rows.map((r) => isoOrNull(r.validFrom)) },
      { type: 'timestamptz', values: rows.map((r) => isoOrNull(r.validTo)) },
      { type: 'boolean', values: rows.map((r) => r.active) },
      { type: 'text', values: rows.map((r) => r.eventId) },
      { type: 'timestamptz', values: rows.map((r) => isoOrNull(r.eventTime)) },
      { type: 'text', values: rows.map((r) => r.sourceSite) },
    ])}
    ON CONFLICT (product_id, region, discount_id) DO UPDATE SET
      percent = excluded.percent, amount_off_minor = excluded.amount_off_minor, currency = excluded.currency,
      valid_from = excluded.valid_from, valid_to = excluded.valid_to, active = excluded.active, event_id = excluded.event_id,
      event_time = excluded.event_time, source_site = excluded.source_site
    WHERE ${newer(discounts)}`);
};

export const EFFECTS: Record<EventKind, ApplyEffects> = { price: applyPrices, country: applyCountries, discount: applyDiscounts };
