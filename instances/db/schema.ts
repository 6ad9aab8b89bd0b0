import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * One site's database. The same schema and migrations serve PGlite (the
 * embedded default) and a PostgreSQL server.
 */

/**
 * Monitoring: one row per event, stage, site and consumer. MirrorMaker 2 and
 * Kafka consumers are at-least-once, so every insert is ON CONFLICT DO
 * NOTHING on that key: a redelivery never adds a row. `consumer` is '' for
 * stages that no consumer owns (published, routed, replicated).
 */
export const monitoringEvents = pgTable(
  'monitoring_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    eventId: text('event_id').notNull(),
    stage: text('stage').notNull(),
    site: text('site').notNull(),
    consumer: text('consumer').notNull().default(''),
    productId: text('product_id'),
    eventType: text('event_type'),
    sourceSite: text('source_site'),
    topic: text('topic'),
    partition: integer('partition'),
    offset: bigint('offset', { mode: 'number' }),
    /** When the stage happened. */
    at: timestamp('at', { withTimezone: true, precision: 3, mode: 'date' }).notNull(),
    /** Time from the origin gateway accepting the event to this stage. */
    latencyMs: integer('latency_ms'),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [
    uniqueIndex('monitoring_events_once').on(t.eventId, t.stage, t.site, t.consumer),
    index('monitoring_events_product').on(t.productId, t.at),
    // Stats read one range of this index per stage (and only the index, once
    // vacuum has marked the pages all-visible); dead letters read it by stage and time.
    index('monitoring_events_stage_window').on(t.stage, t.at, t.latencyMs),
  ],
);

/**
 * Per-second rollups of `monitoring_events` for the stats: one row per stage
 * and second, holding a latency histogram of that second's rows as two
 * parallel arrays (`buckets` ascending, `counts`) plus `no_latency`, the rows with
 * no latency. Buckets are exact milliseconds up to 63 ms, then 3 % wide
 * (`latencyBucket` in instances/queries.ts). Kept by statement triggers on
 * `monitoring_events` (migration 0005), so every insert (the monitoring
 * consumer's, a test's, a bulk load) and every retention delete moves them
 * in the same transaction, and an insert that ON CONFLICT skips counts
 * nothing. A 5-minute window's stats read at most 300 rows per stage,
 * however many events it held.
 */
export const monitoringRollups = pgTable(
  'monitoring_rollups',
  {
    stage: text('stage').notNull(),
    second: timestamp('second', { withTimezone: true, precision: 0, mode: 'date' }).notNull(),
    noLatency: bigint('no_latency', { mode: 'number' }).notNull(),
    buckets: integer('buckets').array().notNull(),
    counts: bigint('counts', { mode: 'number' }).array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.stage, t.second] })],
);

/** Latest price per product and region: last writer by event time, then event id. */
export const priceBook = pgTable(
  'price_book',
  {
    productId: text('product_id').notNull(),
    region: text('region').notNull(),
    currency: text('currency').notNull(),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    eventId: text('event_id').notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, precision: 3, mode: 'date' }).notNull(),
    sourceSite: text('source_site').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3, mode: 'date' }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.productId, t.region] })],
);

/** Availability per product and country. */
export const availability = pgTable(
  'availability',
  {
    productId: text('product_id').notNull(),
    country: text('country').notNull(),
    available: boolean('available').notNull(),
    reason: text('reason'),
    eventId: text('event_id').notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, precision: 3, mode: 'date' }).notNull(),
    sourceSite: text('source_site').notNull(),
  },
  (t) => [primaryKey({ columns: [t.productId, t.country] })],
);

/** Discounts per product, region ('*' for every region) and discount id. */
export const discounts = pgTable(
  'discounts',
  {
    productId: text('product_id').notNull(),
    region: text('region').notNull(),
    discountId: text('discount_id').notNull(),
    percent: text('percent'),
    amountOffMinor: bigint('amount_off_minor', { mode: 'number' }),
    currency: text('currency'),
    validFrom: timestamp('valid_from', { withTimezone: true, mode: 'date' }),
    validTo: timestamp('valid_to', { withTimezone: true, mode: 'date' }),
    active: boolean('active').notNull(),
    eventId: text('event_id').notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, precision: 3, mode: 'date' }).notNull(),
    sourceSite: text('source_site').notNull(),
  },
  (t) => [primaryKey({ columns: [t.productId, t.region, t.discountId] })],
);

/**
 * The event store (PEMX storage): every product event this site received,
 * with its payload: the ones published here (its routed topics) and the
 * copies MM2 brought it. One row per event id: MM2 redeliveries, and a
 * discount for every region read from each region's topic, add nothing.
 * History for a set of products reads the (product, time, id) index newest first.
 */
export const storedEvents = pgTable(
  'stored_events',
  {
    eventId: text('event_id').primaryKey(),
    productId: text('product_id').notNull(),
    eventType: text('event_type').notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, precision: 3, mode: 'date' }).notNull(),
    /** The site whose gateway accepted it. */
    sourceSite: text('source_site').notNull(),
    /** Where this site read it: a routed topic (published here) or an upstream's copy. */
    topic: text('topic').notNull(),
    partition: integer('partition').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    publishedAt: timestamp('published_at', { withTimezone: true, precision: 3, mode: 'date' }).notNull(),
    storedAt: timestamp('stored_at', { withTimezone: true, precision: 3, mode: 'date' }).notNull().default(sql`now()`),
    /** The whole event (CloudEvent attributes and data), as the gateway accepted it. */
    event: jsonb('event').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [
    index('stored_events_product_time').on(t.productId, t.eventTime, t.eventId),
    index('stored_events_time').on(t.eventTime, t.eventId),
    // Retention drops what the site received longest ago (instances/row-retention.ts).
    index('stored_events_stored_at').on(t.storedAt),
  ],
);
