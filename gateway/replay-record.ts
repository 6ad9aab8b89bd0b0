import type { ReplayJob } from '../contract/index.ts';

/**
 * Where a replay job (gateway/replay.ts) goes on after a restart: for the
 * site's consumers, the cursor of the next page (null: the first); oldest
 * first (a subscription), the pages' cursors once all were read and the index
 * of the next page to send, going down (null until then: the cursors are read
 * again).
 */
export type ReplayResume = { before: string | null } | { starts: (string | null)[] | null; index: number };

/**
 * Which gateway of the site runs a job. `epoch` grows by one at each
 * takeover; in the window topic's order (one partition per job, since the
 * job's id is the key) the first record of an epoch names its owner, and
 * every gateway reading the topic agrees on it. `released`: its owner stopped
 * running it (a drain), so another gateway may take it at once.
 */
export interface ReplayOwner {
  gateway: string;
  epoch: number;
  released?: boolean;
}

/** A job as the site's window topic keeps it (gateway/durable-window.ts): what it reports, how it goes on, and who runs it. */
export interface StoredReplay {
  job: ReplayJob;
  resume: ReplayResume;
  /** Absent in records written before gateways coordinated: epoch 0, no owner. */
  owner?: ReplayOwner;
}

const NO_OWNER: ReplayOwner = { gateway: '', epoch: 0 };
export const ownerOf = (record: StoredReplay): ReplayOwner => record.owner ?? NO_OWNER;

/**
 * Pure: whether `incoming`, read after `current` from the window topic, is
 * the job's new state. A record of a lower epoch is an owner that was taken
 * over; a second record of the same epoch by another gateway is a claim that
 * came second. Every gateway applies this in the topic's order, so all agree.
 */
export function supersedes(current: StoredReplay | undefined, incoming: StoredReplay): boolean {
  if (!current) return true;
  const now = ownerOf(current);
  const next = ownerOf(incoming);
  if (next.epoch !== now.epoch) return next.epoch > now.epoch;
  return next.gateway === now.gateway;
}
