import { sql } from 'drizzle-orm';
import { type CountryData, type DiscountData, type PriceData, type ProductEvent, siteOfSource } from '../contract/index.ts';
import type { EventKind } from '../federation/index.ts';
import type { SiteDb } from './db/database.ts';
import { availability, discounts, priceBook } from './db/schema.ts';

/**
 * The downstream effects of product events on a site's database. Each is an
 * idempotent upsert, last writer wins by (event time, event id): applying the
 * same event twice, or an older event after a newer one, changes nothing.
 * Applied a batch at a time: one statement per batch.
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
  await db
    .insert(priceBook)
    .values(rows)
    .onConflictDoUpdate({
      target: [priceBook.productId, priceBook.region],
      set: {
        currency: sql`excluded.currency`,
        amountMinor: sql`excluded.amount_minor`,
        eventId: sql`excluded.event_id`,
        eventTime: sql`excluded.event_time`,
        sourceSite: sql`excluded.source_site`,
        updatedAt: sql`now()`,
      },
      setWhere: newer(priceBook),
    });
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
  await db
    .insert(availability)
    .values(rows)
    .onConflictDoUpdate({
      target: [availability.productId, availability.country],
      set: {
        available: sql`excluded.available`,
        reason: sql`excluded.reason`,
        eventId: sql`excluded.event_id`,
        eventTime: sql`excluded.event_time`,
        sourceSite: sql`excluded.source_site`,
      },
      setWhere: newer(availability),
    });
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
  await db
    .insert(discounts)
    .values(rows)
    .onConflictDoUpdate({
      target: [discounts.productId, discounts.region, discounts.discountId],
      set: {
        percent: sql`excluded.percent`,
        amountOffMinor: sql`excluded.amount_off_minor`,
        currency: sql`excluded.currency`,
        validFrom: sql`excluded.valid_from`,
        validTo: sql`excluded.valid_to`,
        active: sql`excluded.active`,
        eventId: sql`excluded.event_id`,
        eventTime: sql`excluded.event_time`,
        sourceSite: sql`excluded.source_site`,
      },
      setWhere: newer(discounts),
    });
};

export const EFFECTS: Record<EventKind, ApplyEffects> = { price: applyPrices, country: applyCountries, discount: applyDiscounts };
