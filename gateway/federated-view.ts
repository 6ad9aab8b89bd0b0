import { flowLag, routedTopicsForSite, siteOf, type FlowLag, type SiteOffsets, type Topology } from '../federation/index.ts';
import type { StageRow, StageStats } from '../contract/index.ts';
import type { PeerClient } from './peer-client.ts';

/**
 * Any site's gateway answers for all sites: it asks every site's read API
 * (its own instance directly, peers through their gateways over mTLS) with a
 * short deadline, merges what came back, and marks the sites that did not
 * answer in time. A partial answer is still an answer.
 */
export type SiteAnswer<T> =
  | { site: string; reachable: true; ms: number; body: T }
  | { site: string; reachable: false; ms: number; error: string };

export interface FanOut<T> {
  sites: SiteAnswer<T>[];
  partial: boolean;
  unreachable: string[];
}

export interface FederatedViewDeps {
  topology: Topology;
  site: string;
  peers: PeerClient;
  /** This site's instance read API, e.g. http://127.0.1.1:8081 */
  instanceUrl: string;
  deadlineMs: number;
  now?: () => number;
}

export function createFederatedView(deps: FederatedViewDeps) {
  const now = deps.now ?? Date.now;

  async function ask<T>(site: string, path: string): Promise<SiteAnswer<T>> {
    const started = now();
    try {
      let status: number;
      let body: T;
      if (site === deps.site) {
        const res = await fetch(`${deps.instanceUrl}/v1${path}`, { signal: AbortSignal.timeout(deps.deadlineMs) });
        status = res.status;
        body = (await res.json()) as T;
      } else {
        const res = await deps.peers.call<T>(siteOf(deps.topology, site), 'GET', `/peer/v1/site${path}`, deps.deadlineMs);
        status = res.status;
        body = res.body;
      }
      if (status !== 200) return { site, reachable: false, ms: now() - started, error: `answered ${status}` };
      return { site, reachable: true, ms: now() - started, body };
    } catch (err) {
      const e = err as Error;
      return { site, reachable: false, ms: now() - started, error: e.name === 'TimeoutError' ? `no answer within ${deps.deadlineMs} ms` : e.message };
    }
  }

  /** Asks one path of every site; local path (after /v1). */
  async function fanOut<T>(path: string): Promise<FanOut<T>> {
    const sites = await Promise.all(deps.topology.sites.map((s) => ask<T>(s.name, path)));
    const unreachable = sites.filter((s) => !s.reachable).map((s) => s.site);
    return { sites, partial: unreachable.length > 0, unreachable };
  }

  const bodies = <T>(f: FanOut<T>) => f.sites.flatMap((s) => (s.reachable ? [s.body] : []));
  const summary = <T>(f: FanOut<T>) => f.sites.map((s) => ({ site: s.site, reachable: s.reachable, ms: s.ms, ...(s.reachable ? {} : { error: s.error }) }));

  return {
    fanOut,

    /** One event across sites: every stage, in time order, with its delay after the publish. */
    async trace(eventId: string) {
      const f = await fanOut<{ stages: StageRow[] }>(`/events/${encodeURIComponent(eventId)}/trace`);
      const stages = bodies(f).flatMap((b) => b.stages).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
      const published = stages.find((s) => s.stage === 'published');
      const t0 = published ? Date.parse(published.at) : null;
      return {
        eventId,
        publishedAt: published?.site ?? null,
        stages: stages.map((s) => ({ ...s, sincePublishMs: t0 === null ? null : Date.parse(s.at) - t0 })),
        sites: summary(f),
        partial: f.partial,
        unreachable: f.unreachable,
      };
    },

    async productHistory(productId: string, limit: number) {
      const f = await fanOut<{ items: StageRow[] }>(`/products/${encodeURIComponent(productId)}/events?limit=${limit}`);
      const items = bodies(f).flatMap((b) => b.items).sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, limit);
      return { productId, items, sites: summary(f), partial: f.partial, unreachable: f.unreachable };
    },

    async deadLetters(limit: number) {
      const f = await fanOut<{ items: StageRow[] }>(`/dead-letters?limit=${limit}`);
      const items = bodies(f).flatMap((b) => b.items).sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, limit);
      return { items, sites: summary(f), partial: f.partial, unreachable: f.unreachable };
    },

    /** Per site: throughput and latency per stage, consumer lag (with when it was read); per link: replication lag in records and seconds. */
    async stats(windowSeconds: number) {
      const overview = await fanOut<{ stages: StageStats[]; groups: Record<string, { records: number }>; offsets: SiteOffsets; kafkaReadAt: string }>(`/overview?windowSeconds=${windowSeconds}`);
      const offsetsBySite = new Map(overview.sites.flatMap((s) => (s.reachable ? [[s.site, s.body.offsets] as const] : [])));
      const links: Array<FlowLag | { from: string; to: string; unknown: true; reason: string }> = [];
      for (const source of deps.topology.sites) {
        for (const flow of source.flows) {
          const target = siteOf(deps.topology, flow.to);
          const src = offsetsBySite.get(source.name);
          const dst = offsetsBySite.get(flow.to);
          if (!src || !dst) {
            links.push({ from: source.name, to: flow.to, unknown: true, reason: `${!src ? source.name : flow.to} did not answer` });
            continue;
          }
          links.push(flowLag({ from: source.name, to: flow.to, topics: routedTopicsForSite(target) }, src, dst, now()));
        }
      }
      const sites = overview.sites.map((s) => ({
        site: s.site,
        reachable: s.reachable,
        ms: s.ms,
        stages: s.reachable ? s.body.stages : null,
        consumerLag: s.reachable ? Object.fromEntries(Object.entries(s.body.groups).map(([g, v]) => [g, v.records])) : null,
        // Lag and offsets come from a reading the site shares among callers (at most ~1 s old while polled).
        kafkaReadAt: s.reachable ? s.body.kafkaReadAt : null,
        ...(s.reachable ? {} : { error: s.error }),
      }));
      return { windowSeconds, sites, links, partial: overview.partial, unreachable: overview.unreachable };
    },

    async health() {
      const f = await fanOut<Record<string, unknown>>('/health');
      return { sites: f.sites.map((s) => ({ site: s.site, reachable: s.reachable, ms: s.ms, ...(s.reachable ? { health: s.body } : { error: s.error }) })), partial: f.partial, unreachable: f.unreachable };
    },

    /** New monitoring rows per site since the given cursors (live flow). */
    async recent(cursors: Record<string, number>) {
      const answers = await Promise.all(deps.topology.sites.map((s) => ask<{ items: (StageRow & { id: number })[]; last: number }>(s.name, `/recent?after=${cursors[s.name] ?? -1}&limit=200`)));
      const next = { ...cursors };
      const items: StageRow[] = [];
      for (const a of answers) {
        if (!a.reachable) continue;
        next[a.site] = a.body.last;
        items.push(...a.body.items);
      }
      items.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
      return { items, cursors: next, unreachable: answers.filter((a) => !a.reachable).map((a) => a.site) };
    },
  };
}
export type FederatedView = ReturnType<typeof createFederatedView>;
