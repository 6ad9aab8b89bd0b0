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
import { ownerOf, type ReplayResume, type StoredReplay, supersedes } from './replay-record.ts';

export type { ReplayOwner, ReplayResume, StoredReplay } from './replay-record.ts';

/** Jobs kept for GET /v1/replays after they finish (and in the site's window topic, for the idempotency window). */
const KEPT = 100;
/** A job whose owner wrote nothing for this long is taken over by another gateway of the site (its owner writes every third of it). */
export const REPLAY_LEASE_MS = 30_000;
/** How long a claim waits for the window reader to bring its own record back. */
const CLAIM_WAIT_MS = 15_000;

export interface ReplayDeps {
  site: string;
  topology: Topology;
  /** Every site's event store, merged (gateway/federated-view.ts). */
  history: FederatedView['history'];
  /** Writes to the site's own Kafka, acks=all. */
  send(messages: Message[]): Promise<void>;
  /**
   * Keeps a job's state (the site's window topic, acks=all): when it starts,
   * before the 202 that acknowledges it, after each page, every third of the
   * lease while it runs, and when it ends. Every gateway of the site reads the
   * records back (observe), so each lists every job, and the one that owns a
   * running job is agreed by all (replay-record.ts). Without it (one gateway,
   * tests) nothing needs agreeing.
   */
  save?(record: StoredReplay): Promise<void>;
  /** This gateway among the site's gateways: stable across its restarts (`<site>@<host>`), distinct from the others'. */
  gateway?: string;
  leaseMs?: number;
  log: Logger;
  now?: () => number;
}

interface Entry {
  job: ReplayJob;
  /** The owner's epoch this gateway runs it under. */
  epoch: number;
  resume: ReplayResume;
  /** Asked to end it (DELETE): it ends `cancelled`. */
  cancel: boolean;
  /** Stops running it here without ending it: this gateway drains (`released`), or another gateway took it over. */
  stop: 'released' | 'taken-over' | null;
  done: Promise<void>;
  savedAt: number;
}

/**
 * Replay jobs of one site's gateway: stored history, read page by page from
 * every site's event store (newest first), the events this site serves
 * re-sent to its own consumers through `site.replay`; to one of its delivery
 * subscriptions (`subscription:<name>`), the events its filter selects, oldest
 * first. One job runs a page at a time and stops between pages when cancelled.
 *
 * With several gateways per site (replicas, a rolling update), a job runs at
 * one of them: the one that started it, until it stops writing for the lease
 * (it died) or releases it (a drain); then the first gateway whose claim the
 * window topic orders first resumes it from its last recorded page (tick).
 */
export function createReplays(deps: ReplayDeps) {
  const now = deps.now ?? Date.now;
  const me = deps.gateway ?? deps.site;
  const lease = deps.leaseMs ?? REPLAY_LEASE_MS;
  /** Jobs this gateway started or resumed. */
  const jobs = new Map<string, Entry>();
  /** Every job's last agreed record, as the window topic brings them back (this gateway's own too), and when it came. */
  const known = new Map<string, { record: StoredReplay; seenAt: number }>();
  const claiming = new Set<string>();
  let draining = false;

  const recordOf = (entry: Entry, released = false): StoredReplay => ({
    job: entry.job,
    resume: entry.resume,
    owner: { gateway: me, epoch: entry.epoch, ...(released ? { released: true } : {}) },
  });
  const persist = async (entry: Entry, released = false) => {
    entry.savedAt = now();
    // Alone (no window), this gateway's own records are the only ones it observes.
    if (!deps.save) return observe(recordOf(entry, released));
    try {
      await deps.save(structuredClone(recordOf(entry, released)));
    } catch (err) {
      // The job goes on; after a restart it would resume from an earlier page (a replay changes nothing twice).
      deps.log.warn({ job: entry.job.id, err: (err as Error).message }, 'replay progress not recorded');
    }
  };
  /** What a job looks like now: this gateway's run, unless the window holds a newer owner's record. */
  const view = (id: string): ReplayJob | undefined => {
    const local = jobs.get(id);
    const k = known.get(id);
    if (local && (!k || ownerOf(k.record).epoch <= local.epoch)) return local.job;
    return k?.record.job;
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

  async function run(entry: Entry, request: ReplayRequest, filter: HistoryFilter, selection: Selection | null): Promise<void> {
    const { job } = entry;
    const resume = entry.resume;
    const halted = () => entry.cancel || entry.stop !== null;
    const progress = async (next: ReplayResume) => {
      entry.resume = next;
      if (!entry.stop) await persist(entry);
    };
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
          if (halted()) break;
          const page = await readPage(before);
          await sendPage(page.items.map((i) => i.event));
          before = page.next ?? undefined;
          if (before) await progress({ before });
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
            if (halted()) break;
            read.push(before ?? null);
            before = (await readPage(before)).next ?? undefined;
          } while (before);
          starts = read;
          index = read.length - 1;
          if (!halted()) await progress({ starts, index });
        }
        for (let i = index; i >= 0 && !halted(); i--) {
          await sendPage((await readPage(starts[i] ?? undefined)).items.map((item) => item.event).reverse());
          if (i > 0) await progress({ starts, index: i - 1 });
        }
      }
      if (entry.stop) {
        // Not ended: released for another gateway of the site (its last page recorded), or already someone else's.
        if (entry.stop === 'released') await persist(entry, true);
        deps.log.info({ job: job.id, why: entry.stop, resume: entry.resume }, 'replay stopped here; another gateway of the site goes on with it');
        return;
      }
      job.state = entry.cancel ? 'cancelled' : 'done';
    } catch (err) {
      job.state = 'failed';
      job.error = (err as Error).message;
      deps.log.warn({ job: job.id, err: job.error }, 'replay failed');
    }
    job.finishedAt = new Date(now()).toISOString();
    entry.resume = { before: null };
    await persist(entry);
    deps.log.info({ job: job.id, state: job.state, read: job.read, sent: job.sent, skipped: job.skipped, unreachable: job.unreachable }, 'replay finished');
  }

  function launch(job: ReplayJob, epoch: number, request: ReplayRequest, selection: Selection | null, resume: ReplayResume): void {
    const entry: Entry = { job, epoch, resume, cancel: false, stop: null, done: Promise.resolve(), savedAt: now() };
    entry.done = run(entry, request, filterOf(request), selection);
    jobs.set(job.id, entry);
    prune();
  }

  /** Forgets finished jobs beyond the last KEPT (by start time). */
  function prune(): void {
    const ids = new Set([...jobs.keys(), ...known.keys()]);
    if (ids.size <= KEPT) return;
    const finished = [...ids]
      .map((id) => view(id)!)
      .filter((j) => j.state !== 'running')
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (const j of finished.slice(0, ids.size - KEPT)) {
      jobs.delete(j.id);
      known.delete(j.id);
    }
  }

  /** Resumes a job this gateway now owns (epoch) from its record; one whose request no longer fits the topology ends failed. */
  function resumeHere(record: StoredReplay, epoch: number): boolean {
    const job = structuredClone(record.job);
    const parsed = ReplayRequestSchema.safeParse(job.request);
    let selection: Selection | null = null;
    try {
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
      selection = subscriptionSelection(parsed.data.consumer);
    } catch (err) {
      // The topology changed under it (a subscription removed): it ends, saying why.
      Object.assign(job, { state: 'failed', error: `not resumed: ${(err as Error).message}`, finishedAt: new Date(now()).toISOString() });
      const entry: Entry = { job, epoch, resume: record.resume, cancel: false, stop: null, done: Promise.resolve(), savedAt: now() };
      entry.done = persist(entry);
      jobs.set(job.id, entry);
      return false;
    }
    launch(job, epoch, parsed.data, selection, record.resume);
    deps.log.info({ job: job.id, resume: record.resume, epoch }, 'replay resumed from its last recorded page');
    return true;
  }

  /** The record that takes a job over for this gateway at the next epoch: resumed here, or ended cancelled. */
  function takeover(current: StoredReplay, cancel: boolean): StoredReplay {
    const job = structuredClone(current.job);
    if (cancel) Object.assign(job, { state: 'cancelled', finishedAt: new Date(now()).toISOString() });
    else job.resumed = (job.resumed ?? 0) + 1;
    return { job, resume: structuredClone(current.resume), owner: { gateway: me, epoch: ownerOf(current).epoch + 1 } };
  }

  /**
   * Takes a job over at the next epoch (to resume it, or to end it cancelled):
   * writes the claim, then waits for the window reader to bring the job's
   * records back in the topic's order. The first record of the new epoch
   * names the owner; true when it is this gateway.
   */
  async function claim(id: string, cancel: boolean): Promise<boolean> {
    const record = takeover(known.get(id)!.record, cancel);
    const epoch = ownerOf(record).epoch;
    if (!deps.save) {
      observe(record); // one gateway: nothing to agree with
      return true;
    }
    await deps.save(structuredClone(record));
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (;;) {
      const seen = known.get(id);
      const owner = seen ? ownerOf(seen.record) : null;
      if (owner && owner.epoch >= epoch) return owner.epoch === epoch && owner.gateway === me;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** A job's record as the window topic brings it back (this gateway's own too): kept when it supersedes the last one. */
  function observe(record: StoredReplay): void {
    const id = record.job.id;
    if (!supersedes(known.get(id)?.record, record)) return;
    known.set(id, { record: structuredClone(record), seenAt: now() });
    const local = jobs.get(id);
    if (local && local.job.state === 'running' && local.stop === null && ownerOf(record).epoch > local.epoch) {
      // Another gateway took it (this one wrote nothing for the lease) or cancelled it: stop after the page in flight.
      local.stop = 'taken-over';
    }
    prune();
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
      const first: StoredReplay = { job, resume, owner: { gateway: me, epoch: 1 } };
      try {
        if (deps.save) await deps.save(structuredClone(first));
        else observe(first);
      } catch (err) {
        throw new Problem('kafka-unavailable', `the replay could not be recorded in ${deps.site}'s Kafka, so it was not started: ${(err as Error).message}`);
      }
      launch(job, 1, request, selection, resume);
      deps.log.info({ job: job.id, request: job.request, requestedBy }, 'replay started');
      return job;
    },
    observe,
    /**
     * The jobs a starting gateway reads back from the window topic: all are
     * listed. Without a window to agree through (one gateway), the running
     * ones resume here at once from their last recorded page; otherwise tick
     * takes them (at once those this gateway ran before its restart, after
     * the lease those of a gateway that stopped writing). A page in flight at
     * a stop is sent again, which changes nothing at a consumer that applied it.
     */
    restore(records: Iterable<StoredReplay>): { listed: number; resumed: number } {
      const sorted = [...records].sort((a, b) => a.job.startedAt.localeCompare(b.job.startedAt));
      for (const r of sorted) observe(r);
      let resumed = 0;
      if (!deps.save) {
        // Each job's last agreed record (observe kept it; prune kept the last KEPT).
        for (const [id, { record }] of known) {
          if (record.job.state !== 'running' || jobs.has(id)) continue;
          const next = takeover(record, false);
          if (resumeHere(next, ownerOf(next).epoch)) resumed++;
        }
      }
      return { listed: sorted.length, resumed };
    },
    /**
     * Every few seconds (gateway/main.ts): writes the state of each job running
     * here that said nothing for a third of the lease, then claims each running
     * job no gateway holds: released by a drain, written by this gateway before
     * a restart, or silent for the lease. Returns the jobs it resumed.
     */
    async tick(): Promise<string[]> {
      const t = now();
      for (const e of jobs.values()) if (e.job.state === 'running' && e.stop === null && t - e.savedAt >= lease / 3) await persist(e);
      const resumed: string[] = [];
      if (draining) return resumed;
      for (const [id, { record, seenAt }] of [...known]) {
        if (record.job.state !== 'running' || claiming.has(id)) continue;
        const local = jobs.get(id);
        if (local && local.job.state === 'running' && local.stop === null) continue;
        const owner = ownerOf(record);
        const before = owner.gateway === me && !(local && local.epoch === owner.epoch);
        if (!(owner.released || before || t - seenAt >= lease)) continue;
        claiming.add(id);
        try {
          if (await claim(id, false)) {
            const k = known.get(id)!;
            if (resumeHere(k.record, ownerOf(k.record).epoch)) resumed.push(id);
          }
        } catch (err) {
          deps.log.warn({ job: id, err: (err as Error).message }, 'replay not claimed; trying again at the next tick');
        } finally {
          claiming.delete(id);
        }
      }
      return resumed;
    },
    get(id: string): ReplayJob {
      const job = view(id);
      if (!job) throw new Problem('not-found', `no replay ${id} at ${deps.site} (a gateway lists its last ${KEPT}, kept for the idempotency window)`);
      return job;
    },
    list(): ReplayJob[] {
      return [...new Set([...jobs.keys(), ...known.keys()])]
        .map((id) => view(id)!)
        .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
    },
    /**
     * Stops a running job after the page in flight; what it sent stays sent.
     * A job another gateway of the site runs is ended by taking it over,
     * cancelled; its runner stops at its next page.
     */
    async cancel(id: string): Promise<ReplayJob> {
      for (let attempt = 0; ; attempt++) {
        const job = view(id);
        if (!job) throw new Problem('not-found', `no replay ${id} at ${deps.site}`);
        if (job.state !== 'running') throw new Problem('replay-finished', `replay ${id} has already finished (${job.state})`);
        const local = jobs.get(id);
        if (local && local.job === job && local.stop === null) {
          local.cancel = true;
          await local.done;
          return local.job;
        }
        let won: boolean;
        try {
          won = await claim(id, true);
        } catch (err) {
          throw new Problem('kafka-unavailable', `the cancel could not be recorded in ${deps.site}'s Kafka: ${(err as Error).message}`);
        }
        if (won || attempt >= 2) return view(id)!;
      }
    },
    /** At a drain: each job running here stops after its page in flight and is released to the site's other gateways. */
    async release(): Promise<void> {
      draining = true;
      for (const e of jobs.values()) if (e.job.state === 'running' && e.stop === null) e.stop = 'released';
      await Promise.all([...jobs.values()].map((e) => e.done));
    },
    /** Waits for every running job (tests, shutdown). */
    async settled(): Promise<void> {
      await Promise.all([...jobs.values()].map((e) => e.done));
    },
  };
}
export type Replays = ReturnType<typeof createReplays>;
