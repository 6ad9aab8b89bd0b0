import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGES } from '../contract/index.ts';
import { type Database, openDatabase } from './db/database.ts';
import { monitoringEvents } from './db/schema.ts';
import { insertMonitoringRows } from './monitoring-consumer.ts';
import { bucketValue, histogramPercentiles, latencyBucket, stageStats } from './queries.ts';
import { createRowRetention } from './row-retention.ts';

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('latency buckets', () => {
  it('are exact to 63 ms and at most 1.5 % off above, and the percentiles interpolate as percentile_cont does', () => {
    for (let ms = 0; ms <= 63; ms++) expect(bucketValue(latencyBucket(ms))).toBe(ms);
    for (let ms = 64; ms < 3_600_000; ms = Math.ceil(ms * 1.007)) {
      const b = latencyBucket(ms);
      expect(Math.abs(bucketValue(b) - ms) / ms).toBeLessThanOrEqual(0.0150001);
      expect(latencyBucket(ms + 1)).toBeGreaterThanOrEqual(b);
    }
    expect(latencyBucket(null)).toBe(-1);
    expect(latencyBucket(-5)).toBe(0);
    expect(
      histogramPercentiles(
        [
          [10, 1],
          [20, 1],
        ],
        [0.5, 0.95, 0.99, 0, 1],
      ),
    ).toEqual([15, 19.5, 19.9, 10, 20]);
    expect(histogramPercentiles([], [0.5])).toEqual([null]);
  });
});

/**
 * The rollups are kept by triggers in the database (migration 0005), so this
 * runs them on a real, embedded PostgreSQL (PGlite) and compares them with
 * the rows themselves: after inserts, repeated inserts that ON CONFLICT
 * skips, and retention deletes.
 */
describe('monitoring rollups', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://', schemaName: 'unused' });
  });
  afterAll(async () => {
    await database?.close();
  });

  /** The rollups, flattened to "stage|second|bucket|count" (bucket -1: no latency), and checked to be well formed. */
  const rollupTotals = async () => {
    const res = (await database.db.execute(sql`select stage, second, no_latency, buckets, counts from monitoring_rollups`)) as unknown as {
      rows: Array<{ stage: string; second: Date | string; no_latency: string | number; buckets: number[]; counts: Array<string | number> }>;
    };
    const out: string[] = [];
    for (const r of res.rows) {
      const second = new Date(r.second).toISOString();
      expect(r.buckets.length).toBe(r.counts.length);
      expect([...r.buckets].sort((a, b) => a - b)).toEqual(r.buckets);
      expect(new Set(r.buckets).size).toBe(r.buckets.length);
      expect(Number(r.no_latency) > 0 || r.buckets.length > 0).toBe(true);
      if (Number(r.no_latency) > 0) out.push(`${r.stage}|${second}|-1|${Number(r.no_latency)}`);
      r.buckets.forEach((b, i) => {
        expect(Number(r.counts[i])).toBeGreaterThan(0);
        out.push(`${r.stage}|${second}|${b}|${Number(r.counts[i])}`);
      });
    }
    return out.sort();
  };
  const rowTotals = async () => {
    const rows = await database.db
      .select({ stage: monitoringEvents.stage, at: monitoringEvents.at, latencyMs: monitoringEvents.latencyMs })
      .from(monitoringEvents);
    const counts = new Map<string, number>();
    for (const r of rows) {
      const second = new Date(Math.floor(r.at.getTime() / 1000) * 1000).toISOString();
      const key = `${r.stage}|${second}|${latencyBucket(r.latencyMs)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([k, n]) => `${k}|${n}`).sort();
  };

  it('equal the rows after inserts, skipped duplicates and retention deletes, and give the stats of the rows', async () => {
    const random = rng(7);
    const now = Date.parse('2026-12-06T12:00:00.000Z');
    const rows = Array.from({ length: 6000 }, (_, i) => {
      const stage = STAGES[i % STAGES.length]!;
      // Most rows inside the last 5 minutes, some 10 days old (for retention), a few without latency.
      const old = i % 10 === 0;
      const at = new Date(now - (old ? 10 * 86_400_000 : 0) - Math.floor(random() * 300_000));
      const latencyMs = i % 17 === 0 ? null : Math.floor(random() ** 3 * 5000);
      return { eventId: `e${Math.floor(i / STAGES.length)}`, stage, site: 's', consumer: stage === 'consumed' ? 'price-book' : '', at, latencyMs };
    });
    for (let i = 0; i < rows.length; i += 1000) await insertMonitoringRows(database.db, rows.slice(i, i + 1000));
    // MM2 and consumers deliver again: the same rows, inserted again, count nothing.
    await insertMonitoringRows(database.db, rows.slice(2000, 3500));
    const expected = await rowTotals();
    expect(expected.reduce((a, k) => a + Number(k.split('|')[3]), 0)).toBe(6000);
    expect(await rollupTotals()).toEqual(expected);

    // The stats from the rollups: the same counts as the rows, percentiles within a bucket.
    const fromRows = await stageStats({ db: database.db, windowSeconds: 600, distinct: true, now: new Date(now) });
    const fromRollups = await stageStats({ db: database.db, windowSeconds: 600, now: new Date(now) });
    expect(fromRollups.map((s) => [s.stage, s.count, s.perSecond])).toEqual(fromRows.map((s) => [s.stage, s.count, s.perSecond]));
    expect(fromRows.length).toBe(STAGES.length);
    for (const [i, r] of fromRollups.entries()) {
      const exact = fromRows[i]!;
      expect(r.distinctEvents).toBeNull();
      for (const q of ['p50', 'p95', 'p99'] as const) {
        const want = exact[q]!;
        expect(Math.abs(r[q]! - want), `${r.stage} ${q}: ${r[q]} against ${want}`).toBeLessThanOrEqual(Math.max(0.2, want * 0.016));
      }
    }

    // Retention deletes the 10-day-old rows in batches; their rollups go with them.
    const retention = createRowRetention({
      db: database.db,
      storedEventsDays: 30,
      monitoringDays: 7,
      batch: 97,
      log: { info() {}, warn() {} },
      now: () => now,
    });
    const swept = await retention.sweep();
    expect(swept.monitoringRows).toBe(600);
    expect(await rollupTotals()).toEqual(await rowTotals());
  });
});
