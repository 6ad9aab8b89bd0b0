import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssignerProtocol } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../certs/index.ts';
import type { PublishInput } from '../contract/index.ts';
import { isOurProcess } from '../deploy/index.ts';
import { createEventGenerator } from '../drills/event-generator.ts';
import { consumerGroup, deliveryGroup } from '../federation/index.ts';
import { dropPostgresSchema } from '../instances/db/database.ts';
import { CONSUMERS } from '../instances/downstream-consumer.ts';
import { createTestFederation, TEST_DATABASE_URL, type TestFederation, testTopology } from './support/federation.ts';
import { issueTestServerCert } from './support/test-ca.ts';

/**
 * Scale-out: a site runs two instance workers on one PostgreSQL schema. They
 * share the site's consumer groups and its webhook subscription's group;
 * worker 2 is SIGKILLed in the middle of 5,000 events. Afterwards every
 * effect is complete and none is doubled or stale (each product's row holds
 * the newest acknowledged event, one `consumed` row per event and consumer),
 * and the webhook received every acknowledged event (at least once; the
 * receiver's dedupe key is the CloudEvent id). Then `scale` takes the site
 * back to two workers and down to one, and the groups follow.
 */
const SCHEMA = `t_scale_${randomUUID().slice(0, 8)}`;
const HOOK_IP = '127.231.0.200';
const HOOK_PORT = 18557;
const EVENTS = 5000;
const BATCH = 100;
const KILL_AFTER = 2000;
const tlsDir = mkdtempSync(join(tmpdir(), 'fedgate-scale-'));
const receiverTls = issueTestServerCert(tlsDir, HOOK_IP);

const topology = testTopology(231, [
  {
    name: 's',
    regions: ['eu', 'us'],
    countries: ['DE', 'US'],
    workers: 2,
    delivery: {
      webhookOrigins: [`https://${HOOK_IP}:${HOOK_PORT}`],
      subscriptions: [
        {
          name: 'erp',
          protocol: 'webhook',
          url: `https://${HOOK_IP}:${HOOK_PORT}/events`,
          caFile: receiverTls.caFile,
          retry: { attempts: 100, baseMs: 100, maxMs: 1000 },
        },
      ],
    },
  },
]);

interface Published {
  id: string;
  kind: string;
  product: string;
  scope: string;
}

describe('two instance workers per site, one SIGKILLed mid-run', () => {
  let fed: TestFederation;
  let hook: Server | null = null;
  let db: pg.Client;
  const ledger: Published[] = [];
  const received: string[] = [];
  const figures: Record<string, unknown> = {};
  const groups = [...CONSUMERS.map((c) => consumerGroup('s', c.name)), deliveryGroup('s', 'erp')];

  beforeAll(async () => {
    hook = createServer({ cert: receiverTls.cert, key: receiverTls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')).id);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook!.listen(HOOK_PORT, HOOK_IP, resolve));
    fed = createTestFederation('scale-out', topology, { databaseUrl: TEST_DATABASE_URL, env: { FEDGATE_DB_SCHEMA: SCHEMA, LOG_LEVEL: 'warn' } });
    await fed.launcher.up();
    db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
  }, 240_000);

  afterAll(async () => {
    await fed?.stop();
    await db?.end();
    hook?.close();
    await dropPostgresSchema(TEST_DATABASE_URL, SCHEMA);
    rmSync(tlsDir, { recursive: true, force: true });
  }, 120_000);

  /** Partitions assigned to each member of each group, by group id. */
  async function assignments(): Promise<Record<string, number[]>> {
    const admin = fed.local('s').admin();
    await admin.connect();
    try {
      const { groups: described } = await admin.describeGroups(groups);
      return Object.fromEntries(
        described.map((g) => [
          g.groupId,
          g.members.map((m) => {
            const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
            return Object.values(decoded?.assignment ?? {}).reduce((n, partitions) => n + partitions.length, 0);
          }),
        ]),
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** Members of each group, by group id. */
  async function members(): Promise<Record<string, number>> {
    const admin = fed.local('s').admin();
    await admin.connect();
    try {
      const { groups: described } = await admin.describeGroups(groups);
      return Object.fromEntries(described.map((g) => [g.groupId, g.members.length]));
    } finally {
      await admin.disconnect();
    }
  }

  async function eventually(what: string, ok: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  it('spreads every group over both workers, and after a SIGKILL of one, completes every effect and delivery without doubling any effect', async () => {
    const pids = fed.launcher.pidsOf('s', 'instance');
    expect(pids).toHaveLength(2);
    const all = Object.fromEntries(groups.map((g) => [g, 2]));
    await eventually('both workers in every group', async () => JSON.stringify(await members()) === JSON.stringify(all), 60_000);
    // Kafka spread each group's partitions over both workers: each has a share of every group.
    const spread = await assignments();
    for (const g of groups) {
      expect(spread[g], g).toHaveLength(2);
      expect(
        spread[g]!.every((n) => n > 0),
        `${g}: ${spread[g]}`,
      ).toBe(true);
    }
    figures.partitionsPerWorker = spread;

    const gen = createEventGenerator({ topology, products: 200, seed: 231 });
    // Explicit, increasing times: the newest event of each product is the last one published.
    const base = Date.now() - 120_000;
    const inputs: PublishInput[] = Array.from({ length: EVENTS }, (_, i) => ({ ...gen.next(), id: randomUUID(), time: new Date(base + i).toISOString() }));
    const token = await issueToken({
      secretsDir: fed.certsDir,
      topology,
      site: 's',
      scopes: ['publish:price', 'publish:discount', 'publish:country'],
      ttlSeconds: 900,
    });
    let killedAt = 0;
    for (let i = 0; i < inputs.length; i += BATCH) {
      const chunk = inputs.slice(i, i + BATCH);
      const res = await fetch(`${fed.launcher.gatewayUrl('s')}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(chunk),
      });
      expect(res.status, res.status === 202 ? '' : await res.text()).toBe(202);
      const answer = (await res.json()) as { events: { id: string }[] };
      answer.events.forEach((a, j) => {
        const input = chunk[j] as any;
        expect(a.id).toBe(input.id);
        ledger.push({ id: a.id, kind: input.type.split('.')[3], product: input.data.productId, scope: input.data.region ?? input.data.country ?? '' });
      });
      if (!killedAt && ledger.length >= KILL_AFTER) {
        process.kill(pids[1]!, 'SIGKILL');
        killedAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(isOurProcess(pids[1]!, fed.runDir)).toBe(false);
    expect(isOurProcess(pids[0]!, fed.runDir)).toBe(true);

    // Delivery: every acknowledged event reached the webhook (the subscription selects everything the site serves).
    await eventually(
      'every event delivered to the webhook',
      () => {
        const got = new Set(received);
        return ledger.every((e) => got.has(e.id));
      },
      180_000,
    );
    const known = new Set(ledger.map((e) => e.id));
    expect(received.filter((id) => !known.has(id))).toEqual([]);
    figures.delivered = received.length;
    figures.redelivered = received.length - new Set(received).size;

    // The surviving worker took over every partition of every group.
    await eventually('the killed worker left every group', async () => Object.values(await members()).every((n) => n === 1), 60_000);

    // Effects: one `consumed` row per event and consumer, for every acknowledged event.
    const q = (text: string) => db.query(text.replaceAll('$schema', `"${SCHEMA}"`));
    await eventually(
      'every event consumed',
      async () => Number((await q(`SELECT count(*) AS n FROM $schema.monitoring_events WHERE stage = 'consumed'`)).rows[0].n) >= ledger.length,
      120_000,
    );
    const consumed = await q(`SELECT event_id, count(*) AS n FROM $schema.monitoring_events WHERE stage = 'consumed' GROUP BY event_id`);
    const perEvent = new Map(consumed.rows.map((r) => [r.event_id as string, Number(r.n)]));
    expect(ledger.filter((e) => perEvent.get(e.id) !== 1).map((e) => e.id)).toEqual([]);
    expect(perEvent.size).toBe(ledger.length);

    // No stale effect: each product's price per region and availability per country is its newest acknowledged event.
    const newest = new Map<string, string>();
    for (const e of ledger) if (e.kind === 'price' || e.kind === 'country') newest.set(`${e.kind}|${e.product}|${e.scope}`, e.id);
    const prices = await q('SELECT product_id, region, event_id FROM $schema.price_book');
    const availability = await q('SELECT product_id, country, event_id FROM $schema.availability');
    const stored = new Map<string, string>([
      ...prices.rows.map((r) => [`price|${r.product_id}|${r.region}`, r.event_id] as [string, string]),
      ...availability.rows.map((r) => [`country|${r.product_id}|${r.country}`, r.event_id] as [string, string]),
    ]);
    expect(stored).toEqual(newest);
    figures.products = stored.size;
    figures.killedWorker = { afterEvents: KILL_AFTER };
    console.log(`[scale-out] ${JSON.stringify(figures)}`);
  }, 480_000);

  it('`scale` starts a second worker again and stops it, and the groups follow', async () => {
    await fed.launcher.scale('s', 2);
    expect(fed.launcher.pidsOf('s', 'instance')).toHaveLength(2);
    await eventually('two members again', async () => Object.values(await members()).every((n) => n === 2), 60_000);
    const [status] = (await fed.launcher.status()).filter((x) => x.site === 's');
    expect(status?.instance).toMatchObject({ running: true, ready: true, nodes: 2 });

    await fed.launcher.scale('s', 1);
    expect(fed.launcher.pidsOf('s', 'instance')).toHaveLength(1);
    await eventually('one member after scaling down', async () => Object.values(await members()).every((n) => n === 1), 60_000);
  }, 240_000);
});
