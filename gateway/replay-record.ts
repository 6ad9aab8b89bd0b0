import type { ReplayJob } from '../contract/index.ts';

/**
 * Where a replay job (gateway/replay.ts) goes on after a restart: for the
 * site's consumers, the cursor of the next page (null: the first); oldest
 * first (a subscription), the pages' cursors once all were read and the index
 * of the next page to send, going down (null until then: the cursors are read
 * again).
 */
export type ReplayResume = { before: string | null } | { starts: (string | null)[] | null; index: number };

/** A job as the site's window topic keeps it (gateway/durable-window.ts): what it reports, and how it goes on. */
export interface StoredReplay {
  job: ReplayJob;
  resume: ReplayResume;
}
