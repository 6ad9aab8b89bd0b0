import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { STAGES } from '../contract/index.ts';
import type { SiteDb } from './db/database.ts';
import { monitoringEvents, storedEvents } from './db/schema.ts';

/**
 * Row retention: the site's database does not grow without bound. Every
 * `intervalMs` (and once at start) it deletes, in batches of `batch` rows,
 * the stored events the site received more than `storedEventsDays` ago
 * (by `stored_at`, its own index) and the monitoring rows whose stage is
 * more than `monitoringDays` old (per stage, along the `(stage, at)` index
 * the stats read). Batches keep each delete short, so consumers writing the
 * same tables wait at most one batch. Days come from the topology
 * (`sites[].retention`).
 */
export interface RowRetentionOptions {
  db: SiteDb;
  storedEventsDays: number;
  monitoringDays: number;
  log: Pick<Logger, 'info' | 'warn'>;
  intervalMs?: number;
  batch?: number;
  now?: () => number;
}

export interface SweepResult {
  storedEvents: number;
  monitoringRows: number;
}

const DAY_MS = 86_400_000;

export function createRowRetention(o: RowRetentionOptions) {
  const batch = o.batch ?? 5000;
  const now = o.now ?? Date.now;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<SweepResult> | null = null;
  let stopped = false;

  async function deleteInBatches(statement: (cut: string) => ReturnType<typeof sql>, cut: string): Promise<number> {
    let total = 0;
    for (;;) {
      if (stopped) return total;
      const result = (await o.db.execute(statement(cut))) as unknown as { rows: unknown[] };
      total += result.rows.length;
      if (result.rows.length < batch) return total;
    }
  }

  async function sweep(): Promise<SweepResult> {
    const storedCut = new Date(now() - o.storedEventsDays * DAY_MS).toISOString();
    const monitoringCut = new Date(now() - o.monitoringDays * DAY_MS).toISOString();
    const stored = await deleteInBatches(
      (cut) =>
        sql`DELETE FROM ${storedEvents} WHERE ${storedEvents.eventId} IN (SELECT ${storedEvents.eventId} FROM ${storedEvents} WHERE ${storedEvents.storedAt} < ${cut}::timestamptz LIMIT ${batch}) RETURNING 1`,
      storedCut,
    );
    let monitoring = 0;
    for (const stage of STAGES) {
      monitoring += await deleteInBatches(
        (cut) =>
          sql`DELETE FROM ${monitoringEvents} WHERE ${monitoringEvents.id} IN (SELECT ${monitoringEvents.id} FROM ${monitoringEvents} WHERE ${monitoringEvents.stage} = ${stage} AND ${monitoringEvents.at} < ${cut}::timestamptz LIMIT ${batch}) RETURNING 1`,
        monitoringCut,
      );
    }
    if (stored + monitoring > 0)
      o.log.info(
        { storedEvents: stored, monitoringRows: monitoring, storedEventsDays: o.storedEventsDays, monitoringDays: o.monitoringDays },
        'retention: old rows deleted',
      );
    return { storedEvents: stored, monitoringRows: monitoring };
  }

  /** One sweep at a time: a call while one runs waits for it. */
  function sweepOnce(): Promise<SweepResult> {
    running ??= sweep().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    sweep: sweepOnce,
    start(): void {
      stopped = false;
      const tick = () => void sweepOnce().catch((err: unknown) => o.log.warn({ err: (err as Error).message }, 'retention sweep failed; the next one retries'));
      tick();
      timer = setInterval(tick, o.intervalMs ?? 60_000);
      timer.unref();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => {});
    },
  };
}
