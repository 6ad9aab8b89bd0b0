import { type SQL, sql } from 'drizzle-orm';
import { encodeHistoryCursor, eventValues, type HistoryBody, type HistoryFilter, type ProductEvent, siteOfSource } from '../contract/index.ts';
import type { SiteDb } from './db/database.ts';
import { storedEvents } from './db/schema.ts';
import { type BulkColumn, bulkInsert } from './db/unnest.ts';

/**
 * The event store (PEMX storage): the site's consumer group `event-store`
 * reads every routed topic here (the events published at this site) and the
 * copies MM2 brings (instances/downstream-consumer.ts runs it), and keeps each
 * event once, with its payload. History for a set of products reads it.
 */
export const STORE_CONSUMER = 'event-store';

/**
 * History is read by people and by replays, not on the delivery path: the
 * broker holds the store's fetch until 64 KiB are there or half a second has
 * passed, instead of answering it (and the store inserting and committing)
 * once per event.
 */
export const STORE_FETCH = { minBytes: 64 * 1024, maxWaitTimeInMs: 500 } as const;

/** Where the events of one batch were read: one topic partition, the offset of each event. */
export interface ReadFrom {
  topic: string;
  partition: number;
  offsets: readonly number[];
}

interface StoredRow {
  event: ProductEvent;
  topic: string;
  partition: number;
  offset: number;
}

const STORE_COLUMNS: readonly BulkColumn<StoredRow>[] = [
  ['event_id', 'text', (r) => r.event.id],
  ['product_id', 'text', (r) => r.event.subject],
  ['event_type', 'text', (r) => r.event.type],
  ['event_time', 'timestamptz', (r) => new Date(r.event.time).toISOString()],
  ['source_site', 'text', (r) => siteOfSource(r.event.source) ?? r.event.source],
  ['topic', 'text', (r) => r.topic],
  ['partition', 'int', (r) => r.partition],
  ['offset', 'bigint', (r) => r.offset],
  ['published_at', 'timestamptz', (r) => new Date(r.event.publishedat).toISOString()],
  ['event', 'jsonb', (r) => JSON.stringify(r.event)],
];

/**
 * Stores a batch in one statement. An event already stored (an MM2
 * redelivery, a discount for every region read again from another region's
 * topic) is left as it was: the first copy read is the one kept.
 */
export async function storeEvents(db: SiteDb, events: readonly ProductEvent[], from: ReadFrom): Promise<void> {
  const seen = new Set<string>();
  const rows: StoredRow[] = [];
  events.forEach((event, i) => {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    rows.push({ event, topic: from.topic, partition: from.partition, offset: from.offsets[i] ?? -1 });
  });
  if (rows.length === 0) return;
  await db.execute(bulkInsert(storedEvents, STORE_COLUMNS, rows, sql`ON CONFLICT (event_id) DO NOTHING`));
}

/**
 * A page of the stored history, newest first by (event time, event id): of a
 * set of products, of a time range of event times, or both. With products,
 * each product's newest rows come from its own range of the (product, time,
 * id) index, limited to a page, and only those are merged: a product with a
 * million events costs a page, not a sort of a million. Without, one range of
 * the (time, id) index.
 */
export async function storedHistory({
  db,
  site,
  filter,
  limit,
  before,
}: {
  db: SiteDb;
  site: string;
  filter: HistoryFilter;
  limit: number;
  before?: { time: number; eventId: string };
}): Promise<HistoryBody> {
  const s = storedEvents;
  const iso = (ms: number) => new Date(ms).toISOString();
  const conditions = [
    filter.from !== undefined ? sql`${s.eventTime} >= ${iso(filter.from)}::timestamptz` : null,
    filter.to !== undefined ? sql`${s.eventTime} < ${iso(filter.to)}::timestamptz` : null,
    before ? sql`(${s.eventTime}, ${s.eventId}) < (${iso(before.time)}::timestamptz, ${before.eventId})` : null,
  ].filter((c) => c !== null);
  const newest = (where: SQL[]) =>
    sql`select * from ${s} ${where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``} order by ${s.eventTime} desc, ${s.eventId} desc limit ${limit + 1}`;
  const rowsSql = filter.productIds
    ? sql`select e.* from unnest(${sql.param([...filter.productIds])}::text[]) as p(id) cross join lateral (${newest([sql`${s.productId} = p.id`, ...conditions])}) as e`
    : newest(conditions);
  const result = await db.execute(sql`
    select r.event_id, r.topic, r.event, r.source_site, (extract(epoch from r.event_time) * 1000)::bigint as time_ms
    from (${rowsSql}) as r
    order by r.event_time desc, r.event_id desc
    limit ${limit + 1}`);
  const rows = (
    result as unknown as {
      rows: Array<{ event_id: string; topic: string; event: ProductEvent | string; source_site: string; time_ms: string | number }>;
    }
  ).rows;
  const page = rows.slice(0, limit);
  const items = page.map((r) => {
    // node-postgres parses jsonb; PGlite in a raw query may hand it back as text.
    const event = (typeof r.event === 'string' ? JSON.parse(r.event) : r.event) as ProductEvent;
    return {
      eventId: r.event_id,
      productId: event.subject,
      type: event.type,
      time: event.time,
      publishedAt: new Date(event.publishedat).toISOString(),
      sourceSite: r.source_site,
      topic: r.topic,
      values: eventValues(event),
      event,
    };
  });
  const last = page.at(-1);
  return { site, items, next: rows.length > limit && last ? encodeHistoryCursor(Number(last.time_ms), last.event_id) : null };
}
