import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../certs/index.ts';
import { readTopicToEnd } from '../deploy/index.ts';
import { routedTopic } from '../federation/index.ts';
import { createTestFederation, type TestFederation, testTopology } from './support/federation.ts';

/**
 * A three-broker site (`"brokers": 3`): a three-voter KRaft quorum, every
 * topic with three copies and min.insync.replicas=2, acks=all from the
 * gateway. Killing the leader of a routed partition under steady publishing
 * loses nothing acknowledged; with two of three brokers dead the gateway
 * never answers 2xx, because no write can reach two in-sync replicas.
 */
const topology = testTopology(191, [{ name: 'solo', regions: ['eu'], countries: ['DE'] }], { brokers: 3 });
const topic = routedTopic('price', 'eu');

describe('a three-broker site', () => {
  let fed: TestFederation;
  let token = '';
  beforeAll(async () => {
    fed = createTestFederation('three-brokers', topology);
    await fed.launcher.up();
    token = await issueToken({ secretsDir: fed.certsDir, topology, site: 'solo', scopes: ['publish:price'], ttlSeconds: 3600 });
  });
  afterAll(async () => {
    await fed?.stop();
  });

  const publish = async (id: string): Promise<number | string> => {
    try {
      const res = await fetch(`${fed.launcher.gatewayUrl('solo')}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          id,
          type: 'com.fedgate.pim.price.updated',
          data: { productId: 'sku-3b', region: 'eu', price: { currency: 'EUR', amount: '1.00' } },
        }),
        signal: AbortSignal.timeout(30_000),
      });
      await res.body?.cancel();
      return res.status;
    } catch (err) {
      return (err as Error).name;
    }
  };
  const leaderOf = async (partition: number): Promise<number> => {
    const admin = fed.local('solo').admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      return topics[0]!.partitions.find((p) => p.partitionId === partition)!.leader;
    } finally {
      await admin.disconnect();
    }
  };

  it('replicates every topic three times, with min.insync.replicas=2', async () => {
    const admin = fed.local('solo').admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(topics[0]!.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
      expect(topics[0]!.partitions.every((p) => p.isr.length === 3)).toBe(true);
    } finally {
      await admin.disconnect();
    }
    expect((await fed.launcher.status())[0]!.broker).toMatchObject({
      running: true,
      ready: true,
      pids: [expect.any(Number), expect.any(Number), expect.any(Number)],
    });
  });

  it('loses nothing acknowledged when the leader of a routed partition is SIGKILLed under steady publishing, and keeps publishing after the election', async () => {
    const acked: Array<{ id: string; at: number }> = [];
    const refused: Array<number | string> = [];
    let running = true;
    let n = 0;
    const load = (async () => {
      while (running) {
        const id = `3b-${n++}`;
        const status = await publish(id);
        if (status === 202) acked.push({ id, at: Date.now() });
        else refused.push(status);
        await sleep(20);
      }
    })();
    await sleep(3000);
    const leader = await leaderOf(0);
    const killedAt = Date.now();
    await fed.launcher.stop('solo', 'broker', { hard: true }, leader);
    await sleep(10_000);
    running = false;
    await load;

    // Unavailability: the longest wait between two acknowledged publishes around the kill.
    const gaps = acked.slice(1).map((a, i) => ({ gap: a.at - acked[i]!.at, at: a.at }));
    const worst = gaps.filter((g) => g.at >= killedAt).reduce((m, g) => Math.max(m, g.gap), 0);
    const stoppedAt = Date.now();
    const after = acked.filter((a) => a.at > killedAt).length;
    console.log(
      `three brokers, leader ${leader} SIGKILLed: ${acked.length} acknowledged, ${refused.length} refused (${[...new Set(refused)].join(', ')}), longest publish gap ${worst} ms, ${after} acknowledged after the kill`,
    );
    // Publishing goes on after the election: the last two seconds of the load were acknowledged. A refusal is a 503, never an error.
    expect(acked.filter((a) => a.at > stoppedAt - 2000).length).toBeGreaterThan(0);
    expect(refused.filter((r) => r !== 503)).toEqual([]);

    // The ledger: every acknowledged id is in the topic, read from the two brokers left.
    const inTopic = new Set<string>();
    await readTopicToEnd(fed.local('solo'), topic, (_p, m) => void inTopic.add(m.headers?.ce_id?.toString() ?? ''));
    const missing = acked.filter((a) => !inTopic.has(a.id));
    expect(missing.map((a) => a.id)).toEqual([]);

    await fed.launcher.start('solo', 'broker');
  });

  it('never answers 2xx with two of the three brokers SIGKILLed, and publishes again once they are back', async () => {
    for (const node of [2, 3]) await fed.launcher.stop('solo', 'broker', { hard: true }, node);
    const answers: Array<number | string> = [];
    for (let i = 0; i < 5; i++) answers.push(await publish(`3b-down-${i}`));
    console.log(`three brokers, two SIGKILLed: publish answers ${answers.join(', ')}`);
    expect(answers.filter((a) => a === 202 || (typeof a === 'number' && a < 300))).toEqual([]);

    await fed.launcher.start('solo', 'broker');
    const deadline = Date.now() + 60_000;
    let status = await publish('3b-back');
    while (status !== 202 && Date.now() < deadline) {
      await sleep(1000);
      status = await publish('3b-back');
    }
    expect(status).toBe(202);
  });
});
