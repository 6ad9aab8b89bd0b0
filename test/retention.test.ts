import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../certs/index.ts';
import { remoteTopic, routedTopic, type SiteOffsets } from '../federation/index.ts';
import { TEST_ENV } from './support/env.ts';
import { createTestFederation, newProducer, REPO, type TestFederation, testTopology, waitForRecords } from './support/federation.ts';
import { CHROMIUM_ARGS, findChromium } from './support/prerequisites.ts';

/**
 * Retention gaps are never silent. Two real sites; b's MM2 node is stopped
 * while a keeps writing a topic routed to b, and a tiny retention.ms on that
 * topic at a deletes records before they were copied. When b's node comes
 * back, MM2's consumer resets to the earliest offset without a word; fedgate
 * reads the jump from MM2's offset syncs and reports exactly the records
 * lost, per flow, in b's read API, the federated view and the dashboard.
 */
const topology = testTopology(181, [
  { name: 'a', regions: ['eu'], countries: ['DE'] },
  { name: 'b', regions: ['us'], countries: ['US'] },
]);
const topic = routedTopic('price', 'us');

describe('retention gaps', () => {
  let fed: TestFederation;
  beforeAll(async () => {
    fed = createTestFederation('retention', topology);
    await fed.launcher.up();
  });
  afterAll(async () => {
    await fed?.stop();
  });

  const produce = async (perPartition: number, label: string) => {
    const producer = newProducer(fed.local('a'));
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2].flatMap((partition) =>
        Array.from({ length: perPartition }, (_, i) => ({
          partition,
          key: `${label}-${i}`,
          value: JSON.stringify({ label, i }),
          headers: { ce_id: `${label}-${partition}-${i}` },
        })),
      ),
    });
    await producer.disconnect();
  };
  const offsetsOf = async (site: string, t: string) => {
    const admin = fed.local(site).admin();
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(t)).map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
    } finally {
      await admin.disconnect();
    }
  };
  const setConfig = async (entries: { name: string; value: string }[]) => {
    const admin = fed.local('a').admin();
    await admin.connect();
    try {
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2 /* TOPIC */, name: topic, configEntries: entries }] });
    } finally {
      await admin.disconnect();
    }
  };

  it('reports the records a’s retention deleted before MM2 copied them to b: exactly, per partition, in b’s read API, the federated view and the dashboard', async () => {
    // Copied before the outage: 5 records per partition.
    await produce(5, 'before');
    await waitForRecords(fed.local('b'), remoteTopic('a', topic), 15, 60_000);
    const copied = await offsetsOf('a', topic);
    await fed.launcher.stop('b', 'mm2');

    // While b's node is down: 100 per partition, a segment roll, then a retention of one second.
    await setConfig([{ name: 'segment.ms', value: '1000' }]);
    await produce(100, 'during');
    await sleep(1500);
    await produce(1, 'roll');
    await setConfig([
      { name: 'segment.ms', value: '1000' },
      { name: 'retention.ms', value: '1000' },
    ]);
    const deadline = Date.now() + 120_000;
    let after = await offsetsOf('a', topic);
    while ([0, 1, 2].some((p) => after.get(p)!.low < copied.get(p)!.high + 100)) {
      if (Date.now() > deadline) throw new Error(`a's retention did not delete the records within 120 s: ${JSON.stringify([...after])}`);
      await sleep(1000);
      after = await offsetsOf('a', topic);
    }
    await setConfig([]); // back to the broker's retention
    // MM2 sees a jump only when it copies a record after it.
    await produce(3, 'after');
    const expected = Object.fromEntries([0, 1, 2].map((p) => [String(p), after.get(p)!.low - copied.get(p)!.high]));
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    console.log(
      `retention: copied ends ${JSON.stringify([...copied])}, log starts after ${JSON.stringify([...after])}, expected lost ${JSON.stringify(expected)}`,
    );
    expect(total).toBeGreaterThanOrEqual(300);

    await fed.launcher.start('b', 'mm2');
    // b's read API: the loss per partition, exactly.
    let reported: SiteOffsets | undefined;
    const until = Date.now() + 90_000;
    for (;;) {
      reported = (await (await fetch(`${fed.launcher.instanceUrl('b')}/v1/offsets`, { headers: fed.launcher.instanceHeaders('b') })).json()) as SiteOffsets;
      if (reported.retentionLoss?.a?.[topic] && Object.keys(reported.retentionLoss.a[topic]!).length === 3) break;
      if (Date.now() > until) throw new Error(`b reported no retention loss within 90 s: ${JSON.stringify(reported.retentionLoss)}`);
      await sleep(1000);
    }
    expect(reported.retentionLoss).toEqual({ a: { [topic]: expected } });

    // The federated view (what `fedgate status` prints) names it on the flow.
    const token = await issueToken({ secretsDir: fed.certsDir, topology, site: 'a', scopes: ['read:federation'], ttlSeconds: 600 });
    type Links = { links: { from: string; to: string; records: number; lostToRetention?: number }[] };
    const statsUntil = Date.now() + 30_000;
    let stats: Links;
    for (;;) {
      stats = (await (
        await fetch(`${fed.launcher.gatewayUrl('a')}/v1/federation/stats?windowSeconds=60`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as Links;
      if (stats.links.find((l) => l.from === 'a' && l.to === 'b')?.records === 0 || Date.now() > statsUntil) break;
      await sleep(500);
    }
    // Lost, not pending: once the records after the gap are copied, the flow has no lag.
    expect(stats.links.find((l) => l.from === 'a' && l.to === 'b')).toMatchObject({ lostToRetention: total, records: 0 });
    expect(stats.links.find((l) => l.from === 'b' && l.to === 'a')?.lostToRetention).toBe(0);

    // The dashboard marks the flow.
    const executablePath = findChromium(TEST_ENV);
    expect(executablePath, 'no Chromium: the preflight of npm test names how to install one').not.toBeNull();
    const browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${fed.launcher.gatewayUrl('b')}/dashboard`);
      await page.fill('#token-input', token);
      await page.click('#signin button');
      await page.waitForSelector('#links tbody tr[data-flow="a-b"]', { timeout: 15_000 });
      expect(await page.locator('#links tbody tr[data-flow="a-b"]').textContent()).toContain(`lost ${total} to retention`);
      expect(await page.locator('#links tbody tr[data-flow="b-a"]').textContent()).not.toContain('lost');
      const dir = join(REPO, 'test-results');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'dashboard-retention-loss.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
