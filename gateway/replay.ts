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
  ReplayRequestSchema,
  selectsEvent,
  subscriptionOfTarget,
  toKafkaRecord,
} from '../contract/index.ts';
import { REPLAY_JOB_HEADER, REPLAY_TO_HEADER, type Selection, selectionOf, siteOf, type Topology } from '../federation/index.ts';
import { routeOf } from './distributor.ts';
import type { FederatedView } from './federated-view.ts';
import type { ReplayResume, StoredReplay } from './replay-record.ts';

export type { ReplayResume, StoredReplay } from './replay-record.ts';

/** Jobs kept for GET /v1/replays after they finish (and in the site's window topic, for the idempotency window). */
const KEPT = 100;

export interface ReplayDeps {
  site: string;
  topology: Topology;
  /** Every site's event store, merged (gateway/federated-view.ts). */
  history: FederatedView['history'];
  /** Writes to the site's own Kafka, acks=all. */
  send(messages: Message[]): Promise<void>;
  /**
   * Keeps a job's state (the site's window topic, acks=all): when it starts,
   * before the 202 that acknowledges it, after each page and when it ends. A
   * gateway that restarts reads the jobs back (restore) and resumes those
   * that were running from their last page.
   */
  save?(record: StoredReplay): Promise<void>;
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
  const save = async (record: StoredReplay) => {
    try {
      await deps.save?.(structuredClone(record));
    } catch (err) {
      // The job goes on; after a restart it would resume from an earlier page (a replay changes nothing twice).
      deps.log.warn({ job: record.job.id, err: (err as Error).message }, 'replay progress not recorded');
    }
  };
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

  async function run(
    entry: { job: ReplayJob; cancel: boolean },
    request: ReplayRequest,
    filter: HistoryFilter,
    selection: Selection | null,
    resume: ReplayResume,
  ): Promise<void> {
    const { job } = entry;
    // A subscription's replay carries only what its filter selects, so `sent` is what its receiver gets again.
    const wanted = (event: ProductEvent) => serves(event) && (selection === null || selectsEvent(selection, event));
    const unreachable = new Set<string>(job.unreachable);
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
        let before = 'before' in resume ? (resume.before ?? undefined) : undefined;
        do {
          if (entry.cancel) break;
          const page = await readPage(before);
          await sendPage(page.items.map((i) => i.event));
          before = page.next ?? undefined;
          if (before) await save({ job, resume: { before } });
        } while (before);
      } else {
        // A receiver applies in arrival order: oldest first. The pages' cursors are read first (keyset cursors, so a
        // page read again holds the same events), then the pages from the last to the first, each reversed.
        let starts = 'starts' in resume ? resume.starts : null;
        let index = 'starts' in resume ? resume.index : -1;
        if (!starts) {
          const read: (string | null)[] = [];
          let before: string | undefined;
          do {
            if (entry.cancel) break;
            read.push(before ?? null);
            before = (await readPage(before)).next ?? undefined;
          } while (before);
          starts = read;
          index = read.length - 1;
          if (!entry.cancel) await save({ job, resume: { starts, index } });
        }
        for (let i = index; i >= 0 && !entry.cancel; i--) {
          await sendPage((await readPage(starts[i] ?? undefined)).items.map((item) => item.event).reverse());
          if (i > 0) await save({ job, resume: { starts, index: i - 1 } });
        }
      }
      job.state = entry.cancel ? 'cancelled' : 'done';
    } catch (err) {
      job.state = 'failed';
      job.error = (err as Error).message;
      deps.log.warn({ job: job.id, err: job.error }, 'replay failed');
    }
    job.finishedAt = new Date(now()).toISOString();
    await save({ job, resume: { before: null } });
    deps.log.info({ job: job.id, state: job.state, read: job.read, sent: job.sent, skipped: job.skipped, unreachable: job.unreachable }, 'replay finished');
  }

  function keep(entry: { job: ReplayJob; cancel: boolean; done: Promise<void> }): void {
    jobs.set(entry.job.id, entry);
    for (const [id, e] of jobs) {
      if (jobs.size <= KEPT) break;
      if (e.job.state !== 'running') jobs.delete(id);
    }
  }

  function launch(job: ReplayJob, request: ReplayRequest, selection: Selection | null, resume: ReplayResume): void {
    const entry = { job, cancel: false, done: Promise.resolve() };
    entry.done = run(entry, request, filterOf(request), selection, resume);
    keep(entry);
  }

  return {
    /** Starts a job; it is recorded (save) before this resolves, so the 202 that answers it stands a restart. */
    async start(request: ReplayRequest, requestedBy: string): Promise<ReplayJob> {
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
        resumed: 0,
      };
      const resume: ReplayResume = selection === null ? { before: null } : { starts: null, index: -1 };
      try {
        await deps.save?.(structuredClone({ job, resume }));
      } catch (err) {
        throw new Problem('kafka-unavailable', `the replay could not be recorded in ${deps.site}'s Kafka, so it was not started: ${(err as Error).message}`);
      }
      launch(job, request, selection, resume);
      deps.log.info({ job: job.id, request: job.request, requestedBy }, 'replay started');
      return job;
    },
    /**
     * The jobs a restarted gateway reads back from the window topic: finished
     * ones are listed again; running ones go on from their last recorded page
     * (`resumed` counts it). A page in flight at the stop is sent again, which
     * changes nothing at a consumer that applied it.
     */
    restore(records: Iterable<StoredReplay>): { listed: number; resumed: number } {
      const sorted = [...records]
        .filter((r) => !jobs.has(r.job.id))
        .map((r) => structuredClone(r))
        .sort((a, b) => a.job.startedAt.localeCompare(b.job.startedAt));
      let resumed = 0;
      for (const { job, resume } of sorted.slice(-KEPT)) {
        if (job.state !== 'running') {
          keep({ job, cancel: false, done: Promise.resolve() });
          continue;
        }
        const parsed = ReplayRequestSchema.safeParse(job.request);
        let selection: Selection | null = null;
        try {
          if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
          selection = subscriptionSelection(parsed.data.consumer);
        } catch (err) {
          // The topology changed under it (a subscription removed): it ends, saying why.
          Object.assign(job, { state: 'failed', error: `not resumed after a restart: ${(err as Error).message}`, finishedAt: new Date(now()).toISOString() });
          keep({ job, cancel: false, done: save({ job, resume }) });
          continue;
        }
        job.resumed = (job.resumed ?? 0) + 1;
        resumed++;
        launch(job, parsed.data, selection, resume);
        deps.log.info({ job: job.id, resume }, 'replay resumed after a restart');
      }
      return { listed: sorted.length, resumed };
    },
    get(id: string): ReplayJob {
      const entry = jobs.get(id);
      if (!entry) throw new Problem('not-found', `no replay ${id} at ${deps.site} (a gateway lists its last ${KEPT}, kept for the idempotency window)`);
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
