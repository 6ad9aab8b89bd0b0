import type pg from 'pg';
import type { BenchFederation } from './federation.ts';

/**
 * One event's `consumed` row of the price book at a site, in ms: accept ->
 * consumed (the whole path), accept -> its copy landed at the site
 * (`replicated`, the MM2 hop, LogAppendTime of the copy; null for an event
 * published there), and the consumer batch that applied it.
 */
export interface ConsumedRow {
  consumed: number;
  replicated: number | null;
  processing: number | null;
  batch: number | null;
}

/** The price book's consumed rows at `site` for one product. */
export async function priceBookConsumed(db: pg.Client, f: BenchFederation, site: string, productId: string): Promise<ConsumedRow[]> {
  const schema = f.schemaOf(site);
  const sql = `select c.latency_ms::float8 as consumed, r.latency_ms::float8 as replicated,
      (c.detail->>'processingMs')::float8 as processing, (c.detail->>'batchSize')::int as batch
    from ${schema}.monitoring_events c
    left join ${schema}.monitoring_events r on r.event_id = c.event_id and r.stage = 'replicated'
    where c.stage = 'consumed' and c.consumer = 'price-book' and c.product_id = $1`;
  return (await db.query<ConsumedRow>(sql, [productId])).rows;
}

/** How many events of one product `site` accepted (its `published` monitoring rows). */
export async function publishedCount(db: pg.Client, f: BenchFederation, site: string, productId: string): Promise<number> {
  const sql = `select count(*)::int as n from ${f.schemaOf(site)}.monitoring_events where stage = 'published' and product_id = $1`;
  return (await db.query<{ n: number }>(sql, [productId])).rows[0]!.n;
}

/** One figure of each row, ascending, the rows without it left out. */
export const ascending = (rows: ConsumedRow[], pick: (r: ConsumedRow) => number | null): number[] =>
  rows
    .map(pick)
    .filter((x): x is number => x !== null && Number.isFinite(x))
    .sort((a, b) => a - b);

/** The q-quantile of ascending values (null when there are none). */
export const percentile = (sorted: number[], q: number): number | null => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;

/** The consumer hop of a row: its copy landed -> consumed (null for an event published at the site). */
export const consumerHop = (r: ConsumedRow): number | null => (r.replicated === null ? null : r.consumed - r.replicated);
