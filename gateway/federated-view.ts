import { filterParams, type HistoryBody, type HistoryFilter, type OverviewBody, type RecentBody, type RowsBody, type TraceBody } from '../contract/index.ts';
import { flowLags, type SiteOffsets } from '../federation/index.ts';
import { createFanOut, type FanOutDeps } from './fan-out.ts';
import { mergeHealth, mergeHistory, mergeNewestFirst, mergeRecent, mergeStats, mergeTrace } from './federated-merge.ts';

/**
 * Any site's gateway answers for all sites: fan-out.ts asks every site's read
 * API with a deadline, federated-merge.ts merges what came back and flags the
 * sites that did not answer.
 */
export function createFederatedView(deps: FanOutDeps) {
  const now = deps.now ?? Date.now;
  const { fanOut, fanOutEach } = createFanOut(deps);
  const id = encodeURIComponent;
  return {
    async trace(eventId: string) {
      return mergeTrace(eventId, await fanOut<TraceBody>(`/events/${id(eventId)}/trace`));
    },
    async productHistory(productId: string, limit: number) {
      return { productId, ...mergeNewestFirst(await fanOut<RowsBody>(`/products/${id(productId)}/events?limit=${limit}`), limit) };
    },
    /** Stored events of a set of products and/or a time range, with their values, from every site's event store (`before`: a cursor this gave). */
    async history(filter: HistoryFilter, limit: number, before?: string) {
      const query = new URLSearchParams({ ...filterParams(filter), limit: String(limit), ...(before ? { before } : {}) });
      return { ...filterParams(filter), ...mergeHistory(await fanOut<HistoryBody>(`/history?${query}`), limit) };
    },
    async deadLetters(limit: number) {
      return mergeNewestFirst(await fanOut<RowsBody>(`/dead-letters?limit=${limit}`), limit);
    },
    async stats(windowSeconds: number) {
      return mergeStats(deps.topology, windowSeconds, await fanOut<OverviewBody>(`/overview?windowSeconds=${windowSeconds}`), now());
    },
    /** The lag of every MM2 flow, from each site's offsets only (lighter than stats: no stage counts). */
    async flows() {
      const f = await fanOut<SiteOffsets>('/offsets');
      const offsets = new Map(f.sites.flatMap((s) => (s.reachable ? [[s.site, s.body] as const] : [])));
      return flowLags(deps.topology, offsets, now());
    },
    async health() {
      return mergeHealth(await fanOut<Record<string, unknown>>('/health'));
    },
    /** New monitoring rows per site since the given cursors (live flow). */
    async recent(cursors: Record<string, number>) {
      return mergeRecent(cursors, await fanOutEach<RecentBody>((site) => `/recent?after=${cursors[site] ?? -1}&limit=200`));
    },
  };
}
export type FederatedView = ReturnType<typeof createFederatedView>;
