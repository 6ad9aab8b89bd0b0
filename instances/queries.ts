import { and, asc, desc, eq, gt, inArray, lt, or, sql } from 'drizzle-orm';
import { STAGES, type StageRow, type StageStats } from '../contract/index.ts';
import type { SiteDb } from './db/database.ts';
import { availability, discounts, monitoringEvents, priceBook } from './db/schema.ts';

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
 * Per-stage counts and latency percentiles over a window: one range scan of
 * the (stage, at, latency) index per stage (index-only once vacuum has marked
 * the pages all-visible), and one sort of that stage's latencies for
 * all three percentiles. Asking stage by stage (a lateral join over the known
 * stages) avoids sorting every row of the window by stage first, which spilled
 * to disk at a million rows. `distinct` also counts distinct event ids: a
 * sort of every id in the window, so only when asked (drills and tests; the
 * dashboard polls without it).
 */
export async function stageStats({
  db,
  windowSeconds,
  distinct = false,
  now = new Date(),
}: {
  db: SiteDb;
  windowSeconds: number;
  distinct?: boolean;
  now?: Date;
}): Promise<StageStats[]> {
  const since = new Date(now.getTime() - windowSeconds * 1000).toISOString();
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
  const round = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10);
  return rows.map((r) => ({
    stage: r.stage,
    count: Number(r.count),
    distinctEvents: r.distinct_events === null ? null : Number(r.distinct_events),
    perSecond: Math.round((Number(r.count) / windowSeconds) * 100) / 100,
    p50: round(r.percentiles?.[0]),
    p95: round(r.percentiles?.[1]),
    p99: round(r.percentiles?.[2]),
  }));
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

/** Which of these event ids were consumed here (by any consumer). */
export async function deliveredIds({ db, ids }: { db: SiteDb; ids: string[] }): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectDistinct({ eventId: monitoringEvents.eventId })
    .from(monitoringEvents)
    .where(and(eq(monitoringEvents.stage, 'consumed'), inArray(monitoringEvents.eventId, ids)));
  return rows.map((r) => r.eventId);
}

export async function countRows({ db }: { db: SiteDb }): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(monitoringEvents);
  return Number(row?.n ?? 0);
}
