import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../certs/index.ts';
import { EVENT_TYPES } from '../contract/index.ts';
import { failoverConsumers, isOurProcess, readTopicToEnd, translatedOffsets } from '../deploy/index.ts';
import { consumerGroup, remoteTopic, routedTopic } from '../federation/index.ts';
import { createTestFederation, REPO, type TestFederation, testTopology } from './support/federation.ts';

const run = promisify(execFile);

/**
 * Consumer failover and fail-back with real MM2 offsets. Site a's price-book
 * group processes 400 events, pauses (a's instance stops), and owes 600
 * more; it fails over to b (MM2's checkpoints), processes the backlog on
 * b's copy of a's topic, and stops there; 300 more are published at a.
 * `fedgate failover consumers --back --from b --to a` then moves it home
 * through the a → b offset syncs. Against the ledger of a's own topic:
 * nothing is skipped (every record below the home position was processed
 * at a or at b), what is processed again is within offset.lag.max per
 * partition, and a's restarted instance consumes the 300 it was owed.
 */
const topology = testTopology(247, [
  { name: 'a', regions: ['eu'], countries: ['DE'] },
  { name: 'b', regions: ['eu', 'us'], countries: ['DE', 'US'] },
]);
const GROUP = consumerGroup('a', 'price-book');
const TOPIC = routedTopic('price', 'eu');
const COPY = remoteTopic('a', TOPIC);

describe('consumer fail-back from MM2 offset syncs', () => {
  let fed: TestFederation;
  let topologyFile = '';
  let token = '';
  const figures: Record<string, unknown> = {};

  const kafkaOf = (site: string) => new Kafka({ ...fed.launcher.adminKafka(site), clientId: 'test-failback', logLevel: logLevel.NOTHING });
  const fedgate = (...args: string[]) =>
    run(process.execPath, [join(REPO, 'bin/fedgate.mjs'), ...args, '--topology', topologyFile, '--home', fed.runDir], { cwd: REPO, timeout: 120_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );
  async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
    const started = Date.now();
    let last: T | undefined;
    for (;;) {
      last = await fn().catch(() => undefined);
      if (last !== undefined && ok(last)) return last;
      if (Date.now() - started > timeoutMs) throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 400)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  async function publish(n: number, prefix: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 100) {
      const body = Array.from({ length: Math.min(100, n - i) }, (_, j) => ({
        type: EVENT_TYPES.price,
        data: { productId: `${prefix}-${(i + j) % 50}`, region: 'eu', price: { currency: 'EUR', minor: 100 + i + j } },
      }));
      const res = await fetch(`${fed.launcher.gatewayUrl('a')}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      ids.push(...((await res.json()) as { events: { id: string }[] }).events.map((e) => e.id));
    }
    return ids;
  }
  /** Every record of a topic: partition → offset → event id. */
  async function ledger(site: string, topic: string): Promise<Map<number, Map<number, string>>> {
    const out = new Map<number, Map<number, string>>();
    await readTopicToEnd(kafkaOf(site), topic, (p, m) => {
      (out.get(p) ?? out.set(p, new Map()).get(p)!).set(Number(m.offset), m.headers?.ce_id?.toString() ?? '');
    });
    return out;
  }
  async function committed(site: string, topic: string): Promise<Map<number, number>> {
    const admin = kafkaOf(site).admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId: GROUP, topics: [topic] });
      return new Map((t?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    } finally {
      await admin.disconnect();
    }
  }
  const delivered = async (site: string, ids: string[]) => {
    const res = await fetch(`${fed.launcher.instanceUrl(site)}/v1/delivered`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...fed.launcher.instanceHeaders(site) },
      body: JSON.stringify({ ids }),
    });
    return ((await res.json()) as { delivered: string[] }).delivered;
  };

  beforeAll(async () => {
    fed = createTestFederation('failback', topology, { env: { LOG_LEVEL: 'warn' } });
    await fed.launcher.up();
    topologyFile = join(fed.runDir, 'failback-topology.json');
    writeFileSync(topologyFile, JSON.stringify(topology));
    token = await issueToken({ secretsDir: fed.certsDir, topology, site: 'a', scopes: ['publish:price'], ttlSeconds: 900 });
  });

  afterAll(async () => {
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    console.log(`failback figures: ${JSON.stringify(figures, null, 2)}`);
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
  });

  it('fails a’s group over to b and back home: nothing skipped, processed again within the bound, the rest consumed at home', async () => {
    // 1. a's group processes 400 events at home, then pauses with a backlog of 600.
    const first = await publish(400, 'fb1');
    await eventually(
      'a consumed the first 400',
      () => delivered('a', first),
      (d) => d.length === 400,
    );
    await fed.launcher.stop('a', 'instance');
    const paused = await committed('a', TOPIC);
    const backlog = await publish(600, 'fb2');
    await eventually(
      'b holds the copy of all 1,000',
      async () => [...(await ledger('b', COPY)).values()].reduce((s, m) => s + m.size, 0),
      (n) => n >= 1000,
    );
    await eventually(
      "MM2 checkpointed the paused group's position at b",
      () => translatedOffsets(kafkaOf('b'), 'a', [GROUP]),
      (c) => [...paused].every(([p, offset]) => c.some((x) => x.topic === COPY && x.partition === p && x.upstreamOffset === offset)),
    );

    // 2. Fail over to b and process the backlog there, on the copy.
    await failoverConsumers({ kafka: kafkaOf('b'), from: 'a', groups: [GROUP] });
    const processedAtB = new Set<string>();
    const consumer = kafkaOf('b').consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    await consumer.connect();
    await consumer.subscribe({ topics: [COPY], fromBeginning: false });
    await consumer.run({ eachMessage: async ({ message }) => void processedAtB.add(message.headers?.ce_id?.toString() ?? '') });
    await eventually(
      'the group processed the backlog at b',
      async () => processedAtB,
      (s) => backlog.every((id) => s.has(id)),
    );
    // While it still runs at b, failing back is refused: its position there would move on.
    const refused = await fedgate('failover', 'consumers', '--back', '--from', 'b', '--to', 'a', '--group', GROUP);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('active member');
    await consumer.disconnect();

    // 3. Owed while the group lives at b but does not run: 300 more at a.
    const owed = await publish(300, 'fb3');
    await eventually(
      'b holds the copy of all 1,300',
      async () => [...(await ledger('b', COPY)).values()].reduce((s, m) => s + m.size, 0),
      (n) => n >= 1300,
    );

    // 4. The same site on both sides names the fix.
    const wrong = await fedgate('failover', 'consumers', '--back', '--from', 'a', '--to', 'a');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('same site');

    // 5. Fail back.
    const back = await fedgate('failover', 'consumers', '--back', '--from', 'b', '--to', 'a', '--group', GROUP, '--json');
    expect(back.code, back.stderr).toBe(0);
    const moved = (
      JSON.parse(back.stdout) as {
        groups: { group: string; partitions: { topic: string; partition: number; translated: number | null; resumesAt: number | null }[] }[];
      }
    ).groups;
    expect(moved.map((g) => g.group)).toEqual([GROUP]);
    const resumes = new Map(moved[0]!.partitions.filter((p) => p.topic === TOPIC).map((p) => [p.partition, p.resumesAt]));
    expect(resumes.size).toBeGreaterThan(0);
    expect([...resumes.values()].every((r) => r !== null)).toBe(true);
    const nowAtHome = await committed('a', TOPIC);
    for (const [p, r] of resumes) expect(nowAtHome.get(p), `partition ${p}`).toBe(r);
    // It moved forward from the paused position: the backlog processed at b is not processed again at home.
    expect([...resumes].some(([p, r]) => (r ?? 0) > (paused.get(p) ?? 0))).toBe(true);

    // 6. Against a's own topic: below each home position, every record was processed at a (before the pause) or at b.
    const home = await ledger('a', TOPIC);
    const processedAtA = new Set<string>();
    for (const [p, records] of home) for (const [offset, id] of records) if (offset < (paused.get(p) ?? 0)) processedAtA.add(id);
    let skipped = 0;
    const again = new Map<number, number>();
    for (const [p, records] of home) {
      const at = resumes.get(p) ?? paused.get(p) ?? 0;
      for (const [offset, id] of records) {
        if (offset < at && !processedAtA.has(id) && !processedAtB.has(id)) skipped++;
        if (offset >= at && (processedAtB.has(id) || processedAtA.has(id))) again.set(p, (again.get(p) ?? 0) + 1);
      }
    }
    const bound = topology.mm2.offsetLagMax;
    figures.failback = { skipped, processedAgain: [...again.values()].reduce((a, b) => a + b, 0), maxPerPartition: Math.max(0, ...again.values()), bound };
    expect(skipped).toBe(0);
    expect(Math.max(0, ...again.values())).toBeLessThanOrEqual(bound);
    // Resuming from the paused home offsets instead would have processed the whole backlog again.
    expect(backlog.every((id) => processedAtB.has(id))).toBe(true);

    // 7. Home again: a's instance consumes the 300 it was owed.
    await fed.launcher.start('a', 'instance');
    await eventually(
      'a consumed what it was owed after failing back',
      () => delivered('a', owed),
      (d) => d.length === owed.length,
    );
  }, 420_000);
});
