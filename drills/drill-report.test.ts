import { describe, expect, it } from 'vitest';
import { buildDrillReport, type ConsumerFailover, type DrillObservations, drillFailures, formatDrillReport } from './drill-report.ts';

const base: DrillObservations = {
  drill: 'site-outage',
  site: 'c',
  hard: false,
  durationSeconds: 10,
  ratePerSecond: 50,
  startedAt: '2026-01-01T00:00:00Z',
  accepted: [
    { id: 'e1', writtenAt: 'a', routedTo: ['c'] },
    { id: 'e2', writtenAt: 'b', routedTo: ['a', 'c'] },
    { id: 'e3', writtenAt: 'a', routedTo: ['b'] },
  ],
  refused: 1,
  delivered: { a: ['e2'], b: ['e3'], c: ['e1'] },
  duplicates: { a: 0, b: 2, c: 1 },
  unavailabilityWindowMs: 120,
  failoverClientSwitches: 3,
  convergeSeconds: 4.2,
  peakLag: { 'a->c': { records: 40, seconds: 3.1 } },
  lostToRetention: {},
  consumerFailover: { skipped: 'no surviving site carries its topics' },
};

describe('drill report', () => {
  it('counts accepted per writing site, owed and delivered per target, and lost per missing delivery', () => {
    const r = buildDrillReport(base);
    expect(r.acceptedPerSite).toEqual({ a: 2, b: 1 });
    expect(r.owedPerSite).toEqual({ a: 1, b: 1, c: 2 });
    expect(r.deliveredPerSite).toEqual({ a: 1, b: 1, c: 1 });
    expect(r.lost).toBe(1);
    expect(r.lostIds).toEqual(['e2@c']);
    expect(r.duplicatesTotal).toBe(3);
    // The recovery point is what was lost; the recovery time is the failing-over client's wait and the convergence.
    expect(r.rpoEvents).toBe(1);
    expect(r.rto).toEqual({ publishUnavailableMs: 120, flowsConvergedSeconds: 4.2 });
    expect(formatDrillReport(r)).toContain('RPO 1 acknowledged events missing; RTO: publishing unavailable 120 ms, flows converged 4.2 s after the restart');
  });
  it('names how long the restart took beside the convergence after it', () => {
    expect(formatDrillReport(buildDrillReport({ ...base, restartSeconds: 31.5, outageBacklog: 100 }))).toContain(
      'converged 4.2 s after the restart, which itself took 31.5 s (a backlog of 100 events was owed to c)',
    );
    expect(formatDrillReport(buildDrillReport(base))).toContain('converged 4.2 s after the restart\n');
  });
  it('reports zero lost when every owed event was consumed', () => {
    const r = buildDrillReport({ ...base, delivered: { a: ['e2'], b: ['e3'], c: ['e1', 'e2'] } });
    expect(r.lost).toBe(0);
    expect(formatDrillReport(r)).toContain('LOST 0');
  });

  it('fails a drill for a loss, a flow that lost records to retention, or a failed-over group that skipped or processed too much again', () => {
    const clean = buildDrillReport({ ...base, delivered: { a: ['e2'], b: ['e3'], c: ['e1', 'e2'] } });
    expect(drillFailures(clean)).toEqual([]);
    expect(drillFailures(buildDrillReport(base))).toEqual(['1 acknowledged events were not delivered where they were routed']);

    const retention = buildDrillReport({ ...base, delivered: { a: ['e2'], b: ['e3'], c: ['e1', 'e2'] }, lostToRetention: { 'a->c': 12 } });
    expect(drillFailures(retention)).toEqual(['flow a->c lost 12 records to retention at its source']);
    expect(formatDrillReport(retention)).toContain('LOST 12 to retention');

    const failover: ConsumerFailover = {
      group: 'fedgate.c.price-book',
      resumedAt: 'a',
      topics: ['c.fed.price.eu'],
      processedBefore: 1000,
      backlog: 3000,
      processed: 3003,
      skippedEvents: 0,
      reprocessed: 3,
      reprocessBoundPerPartition: 10,
      reprocessedMaxPerPartition: 2,
      fromEarliest: { reprocessed: 1000, skipped: 0 },
      fromLatest: { reprocessed: 0, skipped: 3000 },
      resumedFrom: [],
    };
    const ok = buildDrillReport({ ...base, delivered: { a: ['e2'], b: ['e3'], c: ['e1', 'e2'] }, consumerFailover: failover });
    expect(drillFailures(ok)).toEqual([]);
    expect(formatDrillReport(ok)).toContain('skipped 0, processed again 3 (at most 2 per partition; bound 10)');
    const bad = buildDrillReport({
      ...base,
      delivered: { a: ['e2'], b: ['e3'], c: ['e1', 'e2'] },
      consumerFailover: { ...failover, skippedEvents: 4, reprocessedMaxPerPartition: 11 },
    });
    expect(drillFailures(bad)).toEqual([
      'the failed-over group skipped 4 owed events',
      'the failed-over group processed 11 events again on one partition, over the bound of 10',
    ]);
  });

  it('names a component that exited during the drill, and fails the drill for it', () => {
    const clean = buildDrillReport({ ...base, delivered: { a: ['e2'], b: ['e3'], c: ['e1', 'e2'] } });
    expect(drillFailures(clean)).toEqual([]);
    expect(formatDrillReport(clean)).not.toContain('EXITED');
    const r = buildDrillReport({ ...base, delivered: { a: ['e2'], b: ['e3'], c: ['e1', 'e2'] }, exited: [{ site: 'c', component: 'mm2' }] });
    expect(drillFailures(r)).toEqual(["c's mm2 exited during the drill"]);
    expect(formatDrillReport(r)).toContain('  EXITED during the drill: c mm2 (see its logs;');
  });
});
