import { and, asc, desc, eq, gt, lt, or, sql } from 'drizzle-orm';
import { STAGES, type StageRow, type StageStats } from '../contract/index.ts';
import type { SiteDb } from './db/database.ts';
import { availability, discounts, monitoringEvents, monitoringRollups, priceBook } from './db/schema.ts';

/**
 * The site read API's queries: service functions, `verb({ db, ... })`.
 * Timestamps go out as ISO strings with milliseconds.
 */

type MonitoringRow = typeof monitoringEvents.$inferSelect;
function toStageRow(r: MonitoringRow): StageRow {
  return {
    eventId: r.eventId,
    stage: r.stage,
    site: r.site,
    consumer: r.consumer,
    productId: r.productId,
    eventType: r.eventType,
    sourceSite: r.sourceSite,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    at: r.at.toISOString(),
    latencyMs: r.latencyMs,
    detail: r.detail ?? null,
  };
}

/** Cursor = the last row's (at, id), opaque to clients. */
export function encodeCursor(at: Date, id: number): string {
  return Buffer.from(`${at.getTime()}:${id}`).toString('base64url');
}
export function decodeCursor(cursor: string): { at: Date; id: number } | null {
  const m = /^(\d+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? { at: new Date(Number(m[1])), id: Number(m[2]) } : null;
}

export async function productHistory({ db, productId, limit, before }: { db: SiteDb; productId: string; limit: number; before?: { at: Date; id: number } }) {
  const rows = await db
    .select()
    .from(monitoringEvents)
    .where(
      and(
        eq(monitoringEvents.productId, productId),
        before ? or(lt(monitoringEvents.at, before.at), and(eq(monitoringEvents.at, before.at), lt(monitoringEvents.id, before.id))) : undefined,
      ),
    )
    .orderBy(desc(monitoringEvents.at), desc(monitoringEvents.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(toStageRow), next: rows.length > limit && last ? encodeCursor(last.at, last.id) : null };
}

export async function productState({ db, productId }: { db: SiteDb; productId: string }) {
  const [prices, countries, discountRows] = await Promise.all([
    db.select().from(priceBook).where(eq(priceBook.productId, productId)).orderBy(asc(priceBook.region)),
    db.select().from(availability).where(eq(availability.productId, productId)).orderBy(asc(availability.country)),
    db.select().from(discounts).where(eq(discounts.productId, productId)).orderBy(asc(discounts.region), asc(discounts.discountId)),
  ]);
  return {
    prices: prices.map((p) => ({
      region: p.region,
      currency: p.currency,
      amountMinor: p.amountMinor,
      eventId: p.eventId,
      eventTime: p.eventTime.toISOString(),
      sourceSite: p.sourceSite,
    })),
    availability: countries.map((a) => ({
      country: a.country,
      available: a.available,
      reason: a.reason,
      eventId: a.eventId,
      eventTime: a.eventTime.toISOString(),
    })),
    discounts: discountRows.map((d) => ({
      region: d.region,
      discountId: d.discountId,
      percent: d.percent,
      amountOffMinor: d.amountOffMinor,
      currency: d.currency,
      active: d.active,
      eventId: d.eventId,
      eventTime: d.eventTime.toISOString(),
    })),
  };
}

export async function eventTrace({ db, eventId }: { db: SiteDb; eventId: string }): Promise<StageRow[]> {
  const rows = await db
    .select()
    .from(monitoringEvents)
    .where(eq(monitoringEvents.eventId, eventId))
    .orderBy(asc(monitoringEvents.at), asc(monitoringEvents.id));
  return rows.map(toStageRow);
}

/**
 * Latency buckets of `monitoring_rollups` (the same expression as migration
 * 0005's triggers): exact milliseconds up to 63, then 3 % wide, -1 for no
 * latency.
 */
export function latencyBucket(ms: number | null): number {
  if (ms === null) return -1;
  if (ms <= 63) return Math.max(ms, 0);
  return 64 + Math.floor(Math.log(ms / 64) / Math.log(1.03));
}

/** The highest bucket the stats keep apart (latencyBucket(2^31 − 1) is 650); anything above counts there. */
const MAX_BUCKET = 700;

/** A bucket's value for percentiles: the millisecond itself, or the geometric middle of a 3 % bucket (at most 1.5 % off). */
export function bucketValue(bucket: number): number {
  return bucket <= 63 ? bucket : 64 * 1.03 ** (bucket - 63.5);
}

/**
 * `percentile_cont` over a histogram: the value at position q·(n−1) of the
 * sorted latencies, interpolated between its neighbours. `buckets` are
 * [bucket, count] pairs in ascending bucket order, without -1.
 */
export function histogramPercentiles(buckets: ReadonlyArray<readonly [number, number]>, qs: readonly number[]): Array<number | null> {
  const n = buckets.reduce((a, [, c]) => a + c, 0);
  if (n === 0) return qs.map(() => null);
  const at = (index: number): number => {
    let seen = 0;
    for (const [b, c] of buckets) {
      seen += c;
      if (index < seen) return bucketValue(b);
    }
    return bucketValue(buckets.at(-1)![0]);
  };
  return qs.map((q) => {
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const vlo = at(lo);
    return lo === pos ? vlo : vlo + (at(lo + 1) - vlo) * (pos - lo);
  });
}

const round1 = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10);

/**
 * Per-stage counts and latency percentiles over a window.
 *
 * The dashboard and the federated view read `monitoring_rollups`: per stage,
 * one range of its primary key (stage, second, bucket) summed by bucket, so
 * the query reads at most seconds × buckets rows per stage however many
 * events the window held, and the percentiles come from that histogram
 * (exact below 64 ms, within 1.5 % above). The window starts at the second
 * that holds `now − windowSeconds`.
 *
 * `distinct` also counts distinct event ids, which no rollup can: that path
 * (drills and tests; `from: 'rows'` asks for it without `distinct`, as the
 * growth bench does to compare) reads the rows themselves, one range scan of
 * the (stage, at, latency) index per stage and one sort of that stage's
 * latencies for exact percentiles.
 */
export async function stageStats({
  db,
  windowSeconds,
  distinct = false,
  from = distinct ? 'rows' : 'rollups',
  now = new Date(),
}: {
  db: SiteDb;
  windowSeconds: number;
  distinct?: boolean;
  from?: 'rollups' | 'rows';
  now?: Date;
}): Promise<StageStats[]> {
  const since = new Date(now.getTime() - windowSeconds * 1000).toISOString();
  if (from === 'rollups' && !distinct) return rollupStats(db, windowSeconds, since);
  const m = monitoringEvents;
  const result = await db.execute(sql`
    select s.stage, x.count, x.distinct_events, x.percentiles
    from unnest(array[${sql.join(
      STAGES.map((st) => sql`${st}`),
      sql`, `,
    )}]::text[]) as s(stage)
    cross join lateral (
      select count(*)::int as count,
             ${distinct ? sql`count(distinct ${m.eventId})::int` : sql`null::int`} as distinct_events,
             percentile_cont(array[0.5, 0.95, 0.99]) within group (order by ${m.latencyMs}) as percentiles
      from ${m}
      where ${m.stage} = s.stage and ${m.at} >= ${since}::timestamptz
    ) as x
    where x.count > 0
    order by s.stage`);
  const rows = (result as unknown as { rows: Array<{ stage: string; count: number; distinct_events: number | null; percentiles: number[] | null }> }).rows;
  return rows.map((r) =>
    stageStat(r.stage, Number(r.count), r.distinct_events === null ? null : Number(r.distinct_events), r.percentiles ?? [], windowSeconds),
  );
}

/** One stage's figures, whichever source counted them. */
function stageStat(
  stage: string,
  count: number,
  distinctEvents: number | null,
  [p50, p95, p99]: ReadonlyArray<number | null | undefined>,
  windowSeconds: number,
): StageStats {
  return { stage, count, distinctEvents, perSecond: Math.round((count / windowSeconds) * 100) / 100, p50: round1(p50), p95: round1(p95), p99: round1(p99) };
}

async function rollupStats(db: SiteDb, windowSeconds: number, since: string): Promise<StageStats[]> {
  const r = monitoringRollups;
  const stages = sql`array[${sql.join(
    STAGES.map((st) => sql`${st}`),
    sql`, `,
  )}]::text[]`;
  // One range of the primary key (stage, second): at most 300 rows per stage for
  // a 5-minute window. The histograms are summed here rather than unnested and
  // grouped in SQL, which made PostgreSQL plan parallel workers whose start cost
  // more than the sums (90 ms against a few), and they come as comma-separated
  // text: the driver's array parser, a character at a time, was most of the call.
  const result = await db.execute(sql`
    select ${r.stage} as stage, ${r.noLatency}::float8 as no_latency,
           array_to_string(${r.buckets}, ',') as buckets, array_to_string(${r.counts}, ',') as counts
    from ${r}
    where ${r.stage} = any(${stages}) and ${r.second} >= date_trunc('second', ${since}::timestamptz)`);
  const rows = (result as unknown as { rows: Array<{ stage: string; no_latency: number; buckets: string; counts: string }> }).rows;
  // Summed per stage into an array indexed by bucket; the two lists are read in
  // step, digit by digit, with no intermediate arrays (300 rows × ~40 buckets
  // per stage is ~12,000 pairs).
  const sums = new Map<string, { none: number; byBucket: Float64Array }>();
  for (const row of rows) {
    let s = sums.get(row.stage);
    if (!s) {
      s = { none: 0, byBucket: new Float64Array(MAX_BUCKET + 1) };
      sums.set(row.stage, s);
    }
    s.none += Number(row.no_latency);
    const bs = row.buckets;
    const cs = row.counts;
    let j = 0;
    let b = 0;
    for (let i = 0; i <= bs.length; i++) {
      const ch = i < bs.length ? bs.charCodeAt(i) : 44;
      if (ch !== 44) {
        b = b * 10 + (ch - 48);
        continue;
      }
      if (i === 0) break; // an empty list
      let c = 0;
      for (; j < cs.length; j++) {
        const d = cs.charCodeAt(j);
        if (d === 44) break;
        c = c * 10 + (d - 48);
      }
      j++;
      s.byBucket[Math.min(b, MAX_BUCKET)]! += c;
      b = 0;
    }
  }
  const out: StageStats[] = [];
  for (const stage of [...sums.keys()].sort()) {
    const { none, byBucket } = sums.get(stage)!;
    const buckets: Array<[number, number]> = [];
    byBucket.forEach((n, bucket) => {
      if (n > 0) buckets.push([bucket, n]);
    });
    const count = buckets.reduce((a, [, c]) => a + c, none);
    if (count > 0) out.push(stageStat(stage, count, null, histogramPercentiles(buckets, [0.5, 0.95, 0.99]), windowSeconds));
  }
  return out;
}

export async function deadLetters({ db, limit }: { db: SiteDb; limit: number }): Promise<StageRow[]> {
  const rows = await db
    .select()
    .from(monitoringEvents)
    .where(eq(monitoringEvents.stage, 'dead-lettered'))
    .orderBy(desc(monitoringEvents.at), desc(monitoringEvents.id))
    .limit(limit);
  return rows.map(toStageRow);
}

/** Rows after a site-local id, oldest first: the live flow polls with it. */
export async function recentRows({
  db,
  after,
  limit,
}: {
  db: SiteDb;
  after: number;
  limit: number;
}): Promise<{ items: (StageRow & { id: number })[]; last: number }> {
  const rows = await db.select().from(monitoringEvents).where(gt(monitoringEvents.id, after)).orderBy(asc(monitoringEvents.id)).limit(limit);
  if (after < 0) {
    // First call: start from the newest rows, not from the beginning of time.
    const [max] = await db.select({ id: sql<number>`coalesce(max(${monitoringEvents.id}), 0)::bigint` }).from(monitoringEvents);
    return { items: [], last: Number(max?.id ?? 0) };
  }
  return { items: rows.map((r) => ({ ...toStageRow(r), id: r.id })), last: rows.at(-1)?.id ?? after };
}

/**
 * Which of these event ids were consumed here (by any consumer). The ids go
 * as one array parameter (`= ANY($1::text[])`): with `inArray`, drizzle
 * built a parameter per id, and a drill asking about ~100,000 owed ids each
 * second spent 6 % of the instance's CPU (2.9 of 49 s) building that query
 * while the instance took in the backlog it was measuring.
 */
export async function deliveredIds({ db, ids }: { db: SiteDb; ids: string[] }): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectDistinct({ eventId: monitoringEvents.eventId })
    .from(monitoringEvents)
    .where(and(eq(monitoringEvents.stage, 'consumed'), sql`${monitoringEvents.eventId} = ANY(${sql.param(ids)}::text[])`));
  return rows.map((r) => r.eventId);
}

export async function countRows({ db }: { db: SiteDb }): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(monitoringEvents);
  return Number(row?.n ?? 0);
}
