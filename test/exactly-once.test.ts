import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsumerFailover, drillFailures, runDrill } from '../drills/index.ts';
import { remoteTopic, routedTopic } from '../federation/index.ts';
import { countRecords, createTestFederation, type TestFederation, testTopology } from './support/federation.ts';

/**
 * Exactly-once MM2 (topology `mm2.exactlyOnce`): two real sites whose MM2
 * nodes copy in transactions, with ACLs on. A site-outage drill SIGKILLs
 * every process of b, MM2 node included, under load: the restarted node
 * resumes from the offsets committed with its last transaction, so no site
 * holds a second copy of anything, and nothing acknowledged is lost.
 */
const topology = testTopology(
  171,
  [
    { name: 'a', regions: ['eu'], countries: ['DE'] },
    { name: 'b', regions: ['us', 'eu'], countries: ['US'] },
  ],
  { exactlyOnce: true },
);

describe('exactly-once MM2', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = createTestFederation('exactly-once', topology);
    await fed.launcher.up();
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it('a SIGKILL site-outage drill reports 0 lost and 0 duplicates', async () => {
    const report = await runDrill({
      launcher: fed.launcher,
      topology,
      secretsDir: fed.certsDir,
      drill: 'site-outage',
      site: 'b',
      durationMs: 20_000,
      ratePerSecond: 50,
      hard: true,
      log: (l) => console.log(`[exactly-once drill] ${l}`),
    });
    console.log(`exactly-once drill: ${JSON.stringify({ ...report, lostIds: undefined })}`);
    expect(report.acceptedTotal).toBeGreaterThan(500);
    // Events routed to b were acknowledged while b was down, so b's copies had a real backlog to resume.
    expect(report.owedPerSite.b).toBeGreaterThan(200);
    expect(report.lost).toBe(0);
    expect(report.rpoEvents).toBe(0);
    expect(report.duplicates).toEqual({ a: 0, b: 0 });
    // Nothing else failed either: no flow reported a retention loss (commit markers in the copies and in the upstream heartbeats are no gap).
    expect(drillFailures(report)).toEqual([]);
    // The consumer failover of the same drill, on transactional copies: nothing skipped, within the bound.
    const fo = report.consumerFailover as ConsumerFailover;
    expect(fo.skippedEvents).toBe(0);
    expect(fo.reprocessedMaxPerPartition).toBeLessThanOrEqual(fo.reprocessBoundPerPartition);
  }, 420_000);

  it('b’s copies were written in transactions: their offsets hold commit markers that no reader sees', async () => {
    // At least once, a copy topic's offsets are dense (one record each). A
    // transactional producer adds a commit marker after every transaction.
    const copy = remoteTopic('a', routedTopic('price', 'eu'));
    const kafka = fed.local('b');
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(copy);
    await admin.disconnect();
    const spanned = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    const records = await countRecords(kafka, copy);
    console.log(`${copy} at b: ${records} records over ${spanned} offsets`);
    expect(records).toBeGreaterThan(100);
    expect(spanned).toBeGreaterThan(records);
  });
});
