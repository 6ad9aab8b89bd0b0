import { randomUUID } from 'node:crypto';
import type { Message } from 'kafkajs';
import type { Logger } from 'pino';
import {
  filterOf,
  type HistoryFilter,
  Problem,
  type ProductEvent,
  type ReplayJob,
  type ReplayRequest,
  selectsEvent,
  subscriptionOfTarget,
  toKafkaRecord,
} from '../contract/index.ts';
import { REPLAY_JOB_HEADER, REPLAY_TO_HEADER, type Selection, selectionOf, siteOf, type Topology } from '../federation/index.ts';
import { routeOf } from './distributor.ts';
import type { FederatedView } from './federated-view.ts';

/** Jobs kept for GET /v1/replays after they finish (in memory: a gateway restart forgets them; a replay run again changes nothing). */
const KEPT = 100;

export interface ReplayDeps {
  site: string;
  topology: Topology;
  /** Every site's event store, merged (gateway/federated-view.ts). */
  history: FederatedView['history'];
  /** Writes to the site's own Kafka, acks=all. */
  send(messages: Message[]): Promise<void>;
  log: Logger;
  now?: () => number;
}

/**
 * Replay jobs of one site's gateway: stored history, read page by page from
 * every site's event store (newest first), the events this site serves
 * re-sent to its own consumers through `site.replay`; to one of its delivery
 * subscriptions (`subscription:<name>`), the events its filter selects, oldest
 * first. One job runs a page at a time and stops between pages when cancelled.
 */
export function createReplays(deps: ReplayDeps) {
  const now = deps.now ?? Date.now;
  const jobs = new Map<string, { job: ReplayJob; cancel: boolean; done: Promise<void> }>();
  const serves = (event: ProductEvent) => {
    try {
      return routeOf(deps.topology, event).targets.includes(deps.site);
    } catch {
      return false; // a scope the topology no longer has
    }
  };

  /** The selection of the delivery subscription a replay names, or null for a consumer group; unknown-subscription when the site has none by that name. */
  function subscriptionSelection(target: string): Selection | null {
    const name = subscriptionOfTarget(target);
    if (name === null) return null;
    const site = siteOf(deps.topology, deps.site);
    const subscription = site.delivery?.subscriptions.find((s) => s.name === name);
    if (!subscription)
      throw new Problem(
        'unknown-subscription',
        `${deps.site} has no delivery subscription "${name}"; it has ${site.delivery?.subscriptions.map((s) => `subscription:${s.name}`).join(', ') || 'none'}`,
      );
    return selectionOf(site, subscription);
  }

  async function run(entry: { job: ReplayJob; cancel: boolean }, request: ReplayRequest, filter: HistoryFilter, selection: Selection | null): Promise<void> {
    const { job } = entry;
    // A subscription's replay carries only what its filter selects, so `sent` is what its receiver gets again.
    const wanted = (event: ProductEvent) => serves(event) && (selection === null || selectsEvent(selection, event));
    const unreachable = new Set<string>();
    const readPage = async (before: string | undefined) => {
      const page = await deps.history(filter, request.pageSize, before);
      for (const s of page.unreachable) unreachable.add(s);
      job.unreachable = [...unreachable].sort();
      job.pages++;
      return page;
    };
    const sendPage = async (events: ProductEvent[]) => {
      job.read += events.length;
      const served = events.filter(wanted);
      job.skipped += events.length - served.length;
      if (served.length === 0) return;
      await deps.send(
        served.map((event) => {
          const r = toKafkaRecord(event);
          return { key: r.key, value: r.value, headers: { ...r.headers, [REPLAY_JOB_HEADER]: job.id, [REPLAY_TO_HEADER]: request.consumer } };
        }),
      );
      job.sent += served.length;
    };
    try {
      if (selection === null) {
        // The site's consumers apply by (event time, id), whatever the order: newest first, as the stores page.
        let before: string | undefined;
        do {
          if (entry.cancel) break;
          const page = await readPage(before);
          await sendPage(page.items.map((i) => i.event));
          before = page.next ?? undefined;
        } while (before);
      } else {
        // A receiver applies in arrival order: oldest first. The pages' cursors are read first (keyset cursors, so a
        // page read again holds the same events), then the pages from the last to the first, each reversed.
        const starts: (string | undefined)[] = [];
        let before: string | undefined;
        do {
          if (entry.cancel) break;
          starts.push(before);
          before = (await readPage(before)).next ?? undefined;
        } while (before);
        for (let i = starts.length - 1; i >= 0 && !entry.cancel; i--) await sendPage((await readPage(starts[i])).items.map((item) => item.event).reverse());
      }
      job.state = entry.cancel ? 'cancelled' : 'done';
    } catch (err) {
      job.state = 'failed';
      job.error = (err as Error).message;
      deps.log.warn({ job: job.id, err: job.error }, 'replay failed');
    }
    job.finishedAt = new Date(now()).toISOString();
    deps.log.info({ job: job.id, state: job.state, read: job.read, sent: job.sent, skipped: job.skipped, unreachable: job.unreachable }, 'replay finished');
  }

  return {
    start(request: ReplayRequest, requestedBy: string): ReplayJob {
      const selection = subscriptionSelection(request.consumer);
      const job: ReplayJob = {
        id: `replay-${randomUUID()}`,
        site: deps.site,
        state: 'running',
        request: {
          ...(request.products ? { products: request.products } : {}),
          ...(request.from ? { from: request.from } : {}),
          ...(request.to ? { to: request.to } : {}),
          consumer: request.consumer,
          pageSize: request.pageSize,
        },
        requestedBy,
        startedAt: new Date(now()).toISOString(),
        finishedAt: null,
        pages: 0,
        read: 0,
        sent: 0,
        skipped: 0,
        unreachable: [],
        error: null,
      };
      const entry = { job, cancel: false, done: Promise.resolve() };
      entry.done = run(entry, request, filterOf(request), selection);
      jobs.set(job.id, entry);
      for (const [id, e] of jobs) {
        if (jobs.size <= KEPT) break;
        if (e.job.state !== 'running') jobs.delete(id);
      }
      deps.log.info({ job: job.id, request: job.request, requestedBy }, 'replay started');
      return job;
    },
    get(id: string): ReplayJob {
      const entry = jobs.get(id);
      if (!entry) throw new Problem('not-found', `no replay ${id} at ${deps.site} (a gateway keeps its last ${KEPT} and forgets them on restart)`);
      return entry.job;
    },
    list(): ReplayJob[] {
      return [...jobs.values()].map((e) => e.job).reverse();
    },
    /** Stops a running job after the page in flight; what it sent stays sent. */
    async cancel(id: string): Promise<ReplayJob> {
      const entry = jobs.get(id);
      if (!entry) throw new Problem('not-found', `no replay ${id} at ${deps.site}`);
      if (entry.job.state !== 'running') throw new Problem('replay-finished', `replay ${id} has already finished (${entry.job.state})`);
      entry.cancel = true;
      await entry.done;
      return entry.job;
    },
    /** Waits for every running job (tests, shutdown). */
    async settled(): Promise<void> {
      await Promise.all([...jobs.values()].map((e) => e.done));
    },
  };
}
export type Replays = ReturnType<typeof createReplays>;
