import {
  encodeHistoryCursor,
  type HistoryBody,
  type HistoryItem,
  newerFirst,
  type OverviewBody,
  type RecentBody,
  type RowsBody,
  type StageRow,
  type TraceBody,
} from '../contract/index.ts';
import { flowLags, type SiteOffsets, type Topology } from '../federation/index.ts';

/**
 * The federated view's pure half: how the answers of every site are merged.
 * The I/O (asking each site with a deadline) is in fan-out.ts. A site that did
 * not answer is flagged, and a partial answer is still an answer.
 */
export type SiteAnswer<T> = { site: string; reachable: true; ms: number; body: T } | { site: string; reachable: false; ms: number; error: string };

export interface FanOut<T> {
  sites: SiteAnswer<T>[];
  partial: boolean;
  unreachable: string[];
}

export function fanOutOf<T>(sites: SiteAnswer<T>[]): FanOut<T> {
  const unreachable = sites.filter((s) => !s.reachable).map((s) => s.site);
  return { sites, partial: unreachable.length > 0, unreachable };
}

const bodies = <T>(f: FanOut<T>): T[] => f.sites.flatMap((s) => (s.reachable ? [s.body] : []));

/** Per site: answered or not, how long it took, and why not. */
export function siteSummary<T>(f: FanOut<T>) {
  return f.sites.map((s) => ({ site: s.site, reachable: s.reachable, ms: s.ms, ...(s.reachable ? {} : { error: s.error }) }));
}

const byTime = (a: StageRow, b: StageRow) => Date.parse(a.at) - Date.parse(b.at);

/** One event across sites: every stage in time order, with its delay after the publish (null when no site saw the publish). */
export function mergeTrace(eventId: string, f: FanOut<Pick<TraceBody, 'stages'>>) {
  const stages = bodies(f)
    .flatMap((b) => b.stages)
    .sort(byTime);
  const published = stages.find((s) => s.stage === 'published');
  const t0 = published ? Date.parse(published.at) : null;
  return {
    eventId,
    publishedAt: published?.site ?? null,
    stages: stages.map((s) => ({ ...s, sincePublishMs: t0 === null ? null : Date.parse(s.at) - t0 })),
    sites: siteSummary(f),
    partial: f.partial,
    unreachable: f.unreachable,
  };
}

/** Rows of every site, newest first, at most `limit`. */
export function mergeNewestFirst(f: FanOut<Pick<RowsBody, 'items'>>, limit: number) {
  const items = bodies(f)
    .flatMap((b) => b.items)
    .sort((a, b) => byTime(b, a))
    .slice(0, limit);
  return { items, sites: siteSummary(f), partial: f.partial, unreachable: f.unreachable };
}

/**
 * Stored history of a set of products across sites: each event once, with the
 * sites that hold it, newest first by (event time, event id), `limit` per page.
 * Each site answered its own newest `limit` before the cursor, so an event in
 * the merged page is in the page of every site that holds it: its `sites` is
 * complete among the sites that answered. There is a next page when a site has
 * more or the merge cut some.
 */
export function mergeHistory(f: FanOut<HistoryBody>, limit: number) {
  const byId = new Map<string, HistoryItem & { sites: string[]; at: number }>();
  let more = false;
  for (const a of f.sites) {
    if (!a.reachable) continue;
    if (a.body.next) more = true;
    for (const { topic: _topic, ...item } of a.body.items) {
      const seen = byId.get(item.eventId);
      if (seen) seen.sites.push(a.site);
      else byId.set(item.eventId, { ...item, sites: [a.site], at: Date.parse(item.time) });
    }
  }
  const merged = [...byId.values()].sort((x, y) => newerFirst({ time: x.at, eventId: x.eventId }, { time: y.at, eventId: y.eventId }));
  const page = merged.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(({ at: _at, sites, ...item }) => ({ ...item, sites: sites.sort() })),
    next: last && (more || merged.length > limit) ? encodeHistoryCursor(last.at, last.eventId) : null,
    sites: siteSummary(f),
    partial: f.partial,
    unreachable: f.unreachable,
  };
}

/** Per site: stages, consumer lag and when Kafka was read; per MM2 flow: lag in records and seconds. */
export function mergeStats(topology: Topology, windowSeconds: number, f: FanOut<Omit<OverviewBody, 'site' | 'windowSeconds'>>, now: number) {
  const offsets = new Map<string, SiteOffsets>(f.sites.flatMap((s) => (s.reachable ? [[s.site, s.body.offsets] as const] : [])));
  const sites = f.sites.map((s) =>
    s.reachable
      ? {
          site: s.site,
          reachable: true,
          ms: s.ms,
          stages: s.body.stages,
          consumerLag: Object.fromEntries(
            Object.entries(s.body.groups)
              .filter(([g]) => !s.body.subscriptions.some((x) => x.group === g))
              .map(([g, v]) => [g, v.records]),
          ),
          subscriptions: s.body.subscriptions.map((x) => {
            const lagRecords = s.body.groups[x.group]?.records ?? null;
            return { ...x, lagRecords, state: x.retrying > 0 ? ('retrying' as const) : lagRecords ? ('catching up' as const) : ('up to date' as const) };
          }),
          // From a reading the site shares among callers (at most ~1 s old while polled).
          kafkaReadAt: s.body.kafkaReadAt,
        }
      : { site: s.site, reachable: false, ms: s.ms, stages: null, consumerLag: null, subscriptions: null, kafkaReadAt: null, error: s.error },
  );
  return { windowSeconds, sites, links: flowLags(topology, offsets, now), partial: f.partial, unreachable: f.unreachable };
}

export function mergeHealth(f: FanOut<Record<string, unknown>>) {
  return {
    sites: f.sites.map((s) => ({ site: s.site, reachable: s.reachable, ms: s.ms, ...(s.reachable ? { health: s.body } : { error: s.error }) })),
    partial: f.partial,
    unreachable: f.unreachable,
  };
}

/** New rows of every site since its cursor, oldest first; a site that did not answer keeps its cursor. */
export function mergeRecent(cursors: Readonly<Record<string, number>>, f: FanOut<Pick<RecentBody, 'items' | 'last'>>) {
  const next = { ...cursors };
  const items: StageRow[] = [];
  for (const a of f.sites) {
    if (!a.reachable) continue;
    next[a.site] = a.body.last;
    items.push(...a.body.items);
  }
  items.sort(byTime);
  return { items, cursors: next, unreachable: f.unreachable };
}
