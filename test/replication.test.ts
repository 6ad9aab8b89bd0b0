import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findManaged, isOurProcess, rssOf } from '../deploy/index.ts';
import { allRoutedTopics, MONITORING_TOPIC, remoteTopic, routedTopic } from '../federation/index.ts';
import {
  consumeUntil,
  createTestFederation,
  createTopics,
  newProducer,
  type TestFederation,
  testTopology,
  topicsOf,
  waitForRecords,
} from './support/federation.ts';

/**
 * Three real sites, each a KRaft broker plus a MirrorMaker 2 node started by
 * the launcher; MM2 pulls from the other sites over mTLS.
 *
 * a serves eu, b serves us, c serves eu and apac: so `fed.price.us` published
 * at a goes to b only, and `fed.price.eu` at a goes to c only.
 */
describe('MirrorMaker 2 replication between real sites', () => {
  const topology = testTopology(111, [
    { name: 'a', regions: ['eu'] },
    { name: 'b', regions: ['us'] },
    { name: 'c', regions: ['eu', 'apac'] },
  ]);
  const sites = topology.sites.map((s) => s.name);
  const toB = routedTopic('price', 'us');
  const notToB = routedTopic('price', 'eu');
  let fed: TestFederation;
  const figures: Record<string, string> = {};

  beforeAll(async () => {
    fed = createTestFederation('replication', topology);
    const started = await Promise.all(sites.map((s) => fed.launcher.start(s, 'broker')));
    started.forEach((r, i) => {
      figures[`broker ready (${sites[i]})`] = `${(r!.readyMs / 1000).toFixed(1)} s`;
    });
    // The instance normally creates these from the topology; auto-create is off.
    for (const s of sites) await createTopics(fed.local(s), [...allRoutedTopics(topology), MONITORING_TOPIC]);
  });

  afterAll(async () => {
    for (const s of sites) {
      for (const c of ['broker', 'mm2'] as const) {
        const pid = fed?.launcher.pidOf(s, c);
        const rss = pid ? rssOf(pid) : null;
        if (rss) figures[`RSS ${s}/${c}`] = `${Math.round(rss / 1024 / 1024)} MiB`;
      }
    }
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    console.log(`replication figures: ${JSON.stringify(figures, null, 2)}`);
    // Nothing this file started is left running.
    expect(pids.length).toBeGreaterThanOrEqual(6);
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
    expect(findManaged(fed.runDir)).toEqual([]);
  });

  it('copies a routed record from a to b as a.<topic>, with key, value and headers intact', async () => {
    const producer = newProducer(fed.local('a'));
    await producer.connect();
    const id = randomUUID();
    await producer.send({
      topic: toB,
      acks: -1,
      messages: [
        {
          key: 'sku-1',
          value: JSON.stringify({ id, price: '19.99' }),
          headers: { ce_id: id, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        },
      ],
    });
    await producer.disconnect();

    const mm2Started = Date.now();
    await Promise.all(sites.map((s) => fed.launcher.start(s, 'mm2')));
    await waitForRecords(fed.local('b'), remoteTopic('a', toB), 1, 90_000);
    const seen = await consumeUntil(
      fed.local('b'),
      remoteTopic('a', toB),
      (m) => m,
      (s) => s.length >= 1,
      90_000,
    );
    figures['MM2 start to first replicated record'] = `${((Date.now() - mm2Started) / 1000).toFixed(1)} s`;
    expect(seen).toEqual([
      {
        key: 'sku-1',
        value: JSON.stringify({ id, price: '19.99' }),
        headers: { ce_id: id, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      },
    ]);
  });

  it('never copies a topic that is not routed to the site', async () => {
    const producer = newProducer(fed.local('a'));
    await producer.connect();
    await producer.send({ topic: notToB, acks: -1, messages: [{ key: 'sku-2', value: 'eu only' }] });
    await producer.send({ topic: MONITORING_TOPIC, acks: -1, messages: [{ key: 'sku-2', value: 'local only' }] });
    // A record sent after both: once c has it, MM2 has long since passed the others.
    await producer.send({ topic: notToB, acks: -1, messages: [{ key: 'sku-3', value: 'marker' }] });
    await producer.disconnect();

    await waitForRecords(fed.local('c'), remoteTopic('a', notToB), 2, 60_000);
    const atB = await topicsOf(fed.local('b'));
    const atC = await topicsOf(fed.local('c'));
    expect(atB).toContain(remoteTopic('a', toB));
    expect(atB).not.toContain(remoteTopic('a', notToB));
    expect(atB.filter((t) => t.includes(MONITORING_TOPIC) && t !== MONITORING_TOPIC)).toEqual([]);
    expect(atC.filter((t) => t.includes(MONITORING_TOPIC) && t !== MONITORING_TOPIC)).toEqual([]);
  });

  it('produces no multi-hop chains in a three-site mesh', async () => {
    // b publishes eu prices: a and c both get b.fed.price.eu. a's flow to c must not carry the copy on.
    const producer = newProducer(fed.local('b'));
    await producer.connect();
    await producer.send({ topic: notToB, acks: -1, messages: [{ key: 'sku-4', value: 'from b' }] });
    await producer.disconnect();
    await waitForRecords(fed.local('a'), remoteTopic('b', notToB), 1, 60_000);
    await waitForRecords(fed.local('c'), remoteTopic('b', notToB), 1, 60_000);
    // Give MM2 several topic-refresh cycles (2 s each) to make a mistake.
    await new Promise((r) => setTimeout(r, 8000));

    const chained = new RegExp(`^(${sites.join('|')})\\.(${sites.join('|')})\\.fed\\.`);
    for (const s of sites) {
      const topics = await topicsOf(fed.local(s));
      // MM2 always forwards its own `heartbeats` topics hop by hop (by design, to
      // trace reachability); routed topics must never chain.
      expect(
        topics.filter((t) => chained.test(t)),
        `chained topics at ${s}`,
      ).toEqual([]);
    }
  });

  it('loses nothing produced while b is down (SIGKILL), counted by unique id', async () => {
    const ids: string[] = [];
    const producer = newProducer(fed.local('a'));
    await producer.connect();
    const sendBatch = async (n: number) => {
      const batch = Array.from({ length: n }, () => randomUUID());
      ids.push(...batch);
      await producer.send({ topic: toB, acks: -1, messages: batch.map((id) => ({ key: `sku-${id.slice(0, 4)}`, value: JSON.stringify({ id }) })) });
    };
    await sendBatch(200);

    const outage = await fed.launcher.stop('b', 'broker', { hard: true });
    expect(outage).toBe('killed');
    const downAt = Date.now();
    for (let i = 0; i < 10; i++) {
      await sendBatch(200);
      await new Promise((r) => setTimeout(r, 500));
    }
    await fed.launcher.start('b', 'broker');
    figures['b outage length'] = `${((Date.now() - downAt) / 1000).toFixed(1)} s`;
    await sendBatch(200);
    await producer.disconnect();

    const expected = new Set(ids);
    const recovered = Date.now();
    const seen = await consumeUntil(
      fed.local('b'),
      remoteTopic('a', toB),
      (m) => (JSON.parse(m.value ?? '{}') as { id?: string }).id,
      (s) => [...expected].every((id) => s.includes(id)),
      120_000,
    );
    figures['b converged after restart'] = `${((Date.now() - recovered) / 1000).toFixed(1)} s`;
    const unique = new Set(seen.filter((id): id is string => !!id && expected.has(id)));
    const lost = [...expected].filter((id) => !unique.has(id));
    figures['outage records'] =
      `${expected.size} produced, ${lost.length} lost, ${seen.filter((id) => id && expected.has(id)).length - unique.size} duplicates`;
    expect(lost).toEqual([]);
  });
});
